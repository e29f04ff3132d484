#!/usr/bin/env bash
# Installs the wild linker, fast mode's linker (`splitlink build --fast`, issue #13), under
# target/tools/wild when it is not there yet: wild-linker 0.10.0 from crates.io (0.11 needs a
# newer rustc than the project's 1.95). Prints the binary's path on stdout (progress on stderr).
# Usage: export SPLITLINK_WILD="$(bash tests/install-wild.sh)"
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="$repo/target/tools/wild"
bin="$root/bin/wild"
if [ ! -x "$bin" ]; then
    echo "installing wild-linker 0.10.0 into $root (cargo install, a few minutes)" >&2
    cargo install wild-linker@0.10.0 --locked --root "$root" >&2
fi
echo "$bin"
