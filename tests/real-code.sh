#!/usr/bin/env bash
# The slow real-code check (not in CI: tens of minutes on two cores). Assembles ripgrep in its
# repository layout and the `cargo` crate from crates.io (nothing fetched is committed), applies
# bin and library edits to two identical copies, builds one with splitlink and one with cargo,
# and fails if splitlink goes through cargo, relinks a comment edit, misses a body edit, or
# produces a binary that behaves differently. Writes docs/real-code.md.
# Usage: bash tests/real-code.sh [--real ripgrep|cargo] [--repeats N]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found: install Rust 1.95 or newer (https://rustup.rs) and retry" >&2
    exit 1
fi
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER || true
exec cargo run --release --locked -p splitlink-bench -- --real-check --repeats 3 --write-docs "$@"
