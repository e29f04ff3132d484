#!/usr/bin/env bash
# Real Emacs (28+, batch) with eglot as the LSP client of the built `splitlink`, on a fresh copy of
# a two-crate fixture workspace: compile error and linker error in Flymake at their lines, cleared
# after the fix (tests/emacs/lsp_test.el). Installs emacs-nox and elpa-eglot when missing
# (tests/editors/install-emacs.sh: apt-get, as root).
# Usage: bash tests/emacs/run.sh        (SPLITLINK_BIN: default target/debug/splitlink)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${SPLITLINK_BIN:-$repo/target/debug/splitlink}"
[ -x "$bin" ] || { echo "error: $bin is missing: build it first (cargo build -p splitlink)" >&2; exit 1; }
emacs="$(bash "$repo/tests/editors/install-emacs.sh")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ws="$tmp/ws"
mkdir -p "$tmp/home"
bash "$repo/tests/editors/ffi-workspace.sh" "$ws"
# The fixture builds into its own target/; the toolchain stays the user's, the rest of HOME is empty.
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER || true
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export HOME="$tmp/home"
cd "$ws"
echo "$("$emacs" --version | head -1), eglot from $(dirname "$(find /usr/share/emacs/site-lisp/elpa -maxdepth 1 -name 'eglot-*' 2>/dev/null | head -1)/x" 2>/dev/null || echo 'Emacs itself')"
SPLITLINK_BIN="$bin" SPLITLINK_WS="$ws" timeout 600 "$emacs" --batch -Q -l "$repo/tests/emacs/packages.el" -l "$repo/tests/emacs/lsp_test.el"
