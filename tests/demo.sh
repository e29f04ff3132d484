#!/usr/bin/env bash
# Builds splitlink and runs it on the bundled example workspace (examples/demo: a binary and a
# library), then shows `splitlink watch --run` on a copy under target/. Usage: bash tests/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found: install Rust 1.95 or newer (https://rustup.rs) and retry" >&2
    exit 1
fi
cargo build -p splitlink --locked
S="$PWD/target/debug/splitlink"
cd examples/demo

echo "--- splitlink build (the first build goes through cargo and captures the rustc invocations)"
"$S" build
./target/debug/app
echo "--- touch every source and build again: nothing to do, no rustc, no cargo"
touch app/src/main.rs util/src/lib.rs
"$S" build
echo "--- splitlink explain"
"$S" explain

echo "--- splitlink watch --run on a copy (target/demo-watch): an edit rebuilds and restarts the binary"
cd "$OLDPWD"
rm -rf target/demo-watch && mkdir -p target/demo-watch
cp -r examples/demo/Cargo.toml examples/demo/Cargo.lock examples/demo/app examples/demo/util target/demo-watch/
cd target/demo-watch
"$S" watch --run --why &
watch_pid=$!
sleep 4
sed -i 's/Hello, {name}!/Hi, {name}!/' util/src/lib.rs
sleep 4
kill -INT "$watch_pid"
wait "$watch_pid" || true
