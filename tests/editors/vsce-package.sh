#!/usr/bin/env bash
# The VS Code extension packages as a user or a release would: a plain `npx vsce package` (the
# @vscode/vsce pinned in editors/vscode's devDependencies, installed by npm ci) in editors/vscode,
# with standard input closed so that any question vsce asks (no repository, no LICENSE…) fails the
# test, and no WARNING; then `npm run package` (what releases use: README links based in the
# repository's editors/vscode, as vsce ignores repository.directory). Each .vsix must hold the
# bundled dist/extension.js, package.json, the icon, README and LICENSE, and no sources, tests or
# node_modules. Usage: bash tests/editors/vsce-package.sh (after npm ci in editors/vscode)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo/editors/vscode"
status=0
fail() { echo "not ok - $*"; status=1; }
check_vsix() {
    local vsix="$1" listing
    listing="$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$vsix")"
    for f in extension/package.json extension/dist/extension.js extension/images/icon.png extension/readme.md extension/LICENSE.md; do
        grep -qx "$f" <<<"$listing" || fail "$f missing from $vsix"
    done
    if grep -q '^extension/node_modules/\|^extension/src/\|^extension/test/\|^extension/scripts/\|\.map$' <<<"$listing"; then
        fail "$vsix carries sources, tests, source maps or node_modules:"; echo "$listing"
    fi
    # The manifest names the icon, and the icon is the 128x128 PNG.
    python3 - "$vsix" <<'PY' || status=1
import struct, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
manifest = z.read("extension.vsixmanifest").decode()
assert "<Icon>extension/images/icon.png</Icon>" in manifest, "no <Icon> in the manifest"
png = z.read("extension/images/icon.png")
assert png[:8] == b"\x89PNG\r\n\x1a\n", "icon.png is not a PNG"
w, h = struct.unpack(">II", png[16:24])
assert (w, h) == (128, 128), f"icon is {w}x{h}"
PY
}

rm -f ./*.vsix
if out="$(timeout 300 npx --no-install vsce package </dev/null 2>&1)"; then
    if grep -qi 'warning\|do you want to continue' <<<"$out"; then fail "plain vsce package warned or asked:"; echo "$out"; fi
    vsix="$(ls ./*.vsix)"
    check_vsix "$vsix"
    rm -f ./*.vsix
else
    fail "plain vsce package failed (a question with no answer, or an error):"; echo "$out"
fi

rm -f dist/splitlink.vsix
if out="$(timeout 300 npm run -s package </dev/null 2>&1)"; then
    check_vsix dist/splitlink.vsix
    python3 - dist/splitlink.vsix <<'PY' || status=1
import re, sys, zipfile
readme = zipfile.ZipFile(sys.argv[1]).read("extension/readme.md").decode()
images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme)
assert images, "no image in the README"
for url in images:
    assert url.startswith("https://github.com/splitlink/splitlink/raw/HEAD/editors/vscode/"), f"README image not under editors/vscode: {url}"
PY
else
    fail "npm run package failed:"; echo "$out"
fi
[ $status = 0 ] && echo "ok - vsce package (plain and npm run package): no question, no warning; the .vsix hold extension.js, package.json, the 128x128 icon, README, LICENSE and nothing else"
exit $status
