#!/usr/bin/env bash
# (The project's copy of shared/recipes/install-code-server.sh; tests/editors/run.sh runs it.)
# Offline-safe install of code-server (real VS Code 1.100.3 server + web UI) from the npm
# registry only, on Debian 12 with Node 20. Usage: install-code-server.sh DIR
# Needs: apt-get install -y build-essential python3 pkg-config libkrb5-dev ripgrep
# Why not plain `npm i code-server`: its postinstall runs `npm install` in lib/vscode,
# where @vscode/ripgrep downloads rg from GitHub (unreachable) and the whole install
# is rolled back. So: --ignore-scripts, put Debian's rg in place, rebuild natives by hand.
set -euo pipefail
DIR=${1:?usage: $0 DIR}
VER=${CODE_SERVER_VERSION:-4.100.3}   # last line whose engines.node is 20 (4.103+ want 22, 4.139 wants 24)
mkdir -p "$DIR" && cd "$DIR"
[ -f package.json ] || echo '{"name":"code-server-host","private":true}' > package.json
npm install --no-audit --ignore-scripts "code-server@$VER"
npm rebuild --foreground-scripts argon2 >argon2-build.log 2>&1     # prebuilt download fails -> compiles
cd node_modules/code-server/lib/vscode
npm install --no-audit --omit=dev --ignore-scripts
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
# node-pty's postinstall fails afterwards on `npx node-gyp ... compile_commands_json` (dev nicety);
# pty.node is built before that, so tolerate the error and check the artefacts instead.
npm rebuild --foreground-scripts @parcel/watcher @vscode/spdlog kerberos native-watchdog node-pty \
  >native-build.log 2>&1 || true
for f in node_modules/@vscode/spdlog/build/Release/spdlog.node node_modules/kerberos/build/Release/kerberos.node \
         node_modules/native-watchdog/build/Release/watchdog.node node_modules/node-pty/build/Release/pty.node; do
  [ -f "$f" ] || { echo "missing $f (see $PWD/native-build.log)"; exit 1; }
done
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
cd extensions
npm install --no-audit --omit=dev --ignore-scripts
node ./postinstall.mjs >/dev/null
cd "$DIR"
XDG_CONFIG_HOME="$DIR/.cfg" XDG_DATA_HOME="$DIR/.data" node_modules/.bin/code-server --version
