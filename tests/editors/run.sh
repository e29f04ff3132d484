#!/usr/bin/env bash
# The editor integrations' tests, in the real editors, against the built `splitlink`:
#   VS Code (editors/vscode): tsc type-check, `node --test` unit tests, `vsce package` (tests/editors/vsce-package.sh),
#     extension-host tests and a UI smoke test in real VS Code (code-server 4.100.3 + headless
#     Debian Chromium + playwright-core): tests/editors/vscode.test.mjs
#   Neovim (editors/neovim and the bare LSP client): tests/nvim/run.sh (Neovim 0.11.4 from PyPI)
#   Emacs 28 + eglot (Debian's emacs-nox, elpa-eglot): tests/emacs/run.sh
# Installs what it needs first, under target/ and node_modules/: Debian packages (chromium, and the
# build tools code-server's native modules need) when missing, code-server from npm
# (tests/editors/install-code-server.sh), the npm packages from the committed package-lock.json files.
# Usage: bash tests/editors/run.sh        (SPLITLINK_BIN: the splitlink binary, default target/debug/splitlink)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
export SPLITLINK_BIN="${SPLITLINK_BIN:-$repo/target/debug/splitlink}"
t0=$SECONDS
step() { printf '\n=== %s (%ds)\n' "$*" $((SECONDS - t0)); }
die() { echo "error: $*" >&2; exit 1; }

[ -x "$SPLITLINK_BIN" ] || die "$SPLITLINK_BIN is missing: build it first (cargo build -p splitlink)"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed (Debian: apt-get install nodejs npm)"
command -v python3 >/dev/null || die "python3 is needed (Neovim comes from PyPI)"

# npm's cache under target/; native modules built against the machine's Node headers when present
# (node-gyp would otherwise download them, and only the package registries are reachable).
export npm_config_cache="$repo/target/editors/npm-cache" npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
if [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi

step "system packages"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
command -v make >/dev/null && command -v g++ >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
[ -f /usr/include/krb5.h ] || [ -f /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        die "missing ${need[*]} and cannot apt-get install them (needs root and apt-get)"
    fi
fi

step "code-server 4.100.3 (real VS Code 1.100.3)"
cs="$repo/target/editors/code-server"
stamp="$cs/.installed-4.100.3"
if [ ! -f "$stamp" ] || [ ! -x "$cs/node_modules/.bin/code-server" ]; then
    rm -rf "$cs"
    mkdir -p "$repo/target/editors"
    bash "$repo/tests/editors/install-code-server.sh" "$cs" > "$repo/target/editors/code-server-install.log" 2>&1 \
        || { tail -40 "$repo/target/editors/code-server-install.log" >&2; die "installing code-server failed (log: target/editors/code-server-install.log)"; }
    touch "$stamp"
fi
echo "$("$cs/node_modules/.bin/code-server" --version 2>/dev/null | tail -1)"

# npm ci, skipped when node_modules already matches the committed lock file.
npm_ci() {
    local dir="$1" sum
    sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$dir/node_modules/.lock-sha256" 2>/dev/null)" != "$sum" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$sum" > "$dir/node_modules/.lock-sha256"
    fi
}
step "npm ci (editors/vscode, tests/editors)"
npm_ci editors/vscode
npm_ci tests/editors

status=0
step "VS Code extension: tsc --noEmit"
(cd editors/vscode && npx --no-install tsc --noEmit -p .) || status=1

step "VS Code extension: unit tests (node --test)"
(cd editors/vscode && node scripts/build.mjs --lib && node --test test/unit/) || status=1

step "VS Code extension: package (plain vsce package, and npm run package) and check the .vsix"
bash tests/editors/vsce-package.sh || status=1

step "VS Code: extension-host tests and UI smoke test in code-server + headless Chromium"
(cd editors/vscode && node scripts/build.mjs) || status=1
node --test --test-concurrency=1 tests/editors/vscode.test.mjs || status=1

step "Neovim: headless tests (bare LSP client, then the plugin)"
bash tests/nvim/run.sh || status=1

step "Emacs: eglot in batch Emacs (compile and linker errors in Flymake)"
bash tests/emacs/run.sh || status=1

step "editor tests done (status $status)"
exit $status
