// No toolchain where the server looks (an editor started with a PATH lacking cargo, and nothing in
// $CARGO_HOME/bin or ~/.cargo/bin): the user is told, where editors show it, what failed and how to
// fix it — `window/showMessage` (an error notification in VS Code, vim.notify in Neovim, the echo
// area in Emacs, the status line in Helix) and `splitlink/buildFinished.error` (the VS Code status
// bar's tooltip, the Neovim statusline and :checkhealth). Then cargo appears in $CARGO_HOME/bin (as
// rustup installs it) and the Build command the message names builds, with no restart of the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import rpc from 'vscode-languageserver-protocol/node';
import { bin, waiter } from './harness.mjs';

const executable = (p) => { try { fs.accessSync(p, fs.constants.X_OK); return fs.statSync(p).isFile(); } catch { return false; } };

test('without cargo: an actionable error notification and buildFinished.error; the Build command after installing it builds', async () => {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  const realCargo = process.env.CARGO && executable(process.env.CARGO) ? process.env.CARGO : dirs.map((d) => path.join(d, 'cargo')).find(executable);
  assert.ok(realCargo, 'this test needs cargo on PATH (or CARGO)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'splitlink-lsp-nocargo-'));
  const ws = path.join(tmp, 'ws');
  const home = path.join(tmp, 'home');
  fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(ws, 'Cargo.toml'), '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n');
  fs.writeFileSync(path.join(ws, 'src/main.rs'), 'fn main() {\n    println!("one");\n}\n');
  // The editor's environment: PATH without any directory holding cargo, an empty home.
  const env = { ...process.env, PATH: dirs.filter((d) => !executable(path.join(d, 'cargo'))).join(path.delimiter), HOME: home, CARGO_HOME: path.join(home, '.cargo') };
  for (const k of ['CARGO', 'CARGO_TARGET_DIR', 'RUSTC', 'RUSTC_WRAPPER', 'RUSTC_WORKSPACE_WRAPPER']) delete env[k];

  const child = spawn(bin, ['lsp'], { cwd: ws, env, stdio: ['pipe', 'pipe', 'ignore'] });
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  const finished = [];
  const shown = [];
  const { wake, until } = waiter(() => `builds ${JSON.stringify(finished)}; shown ${JSON.stringify(shown)}`);
  conn.onNotification('splitlink/buildFinished', (p) => { finished.push(p); wake(); });
  conn.onNotification('window/showMessage', (p) => { shown.push(p); wake(); });
  conn.onNotification('window/logMessage', () => {});
  conn.listen();
  try {
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(ws).toString(), capabilities: {} });
    conn.sendNotification('initialized', {});
    const b = await until(() => finished[0], 'the build that cannot start');
    assert.equal(b.success, false, JSON.stringify(b));
    assert.match(b.error || '', /cannot run cargo/, JSON.stringify(b));
    assert.match(b.error, /no `cargo` on PATH, in \$CARGO_HOME\/bin or ~\/\.cargo\/bin/);
    assert.match(b.error, /rustup\.rs/);
    const m = await until(() => shown.find((s) => /cargo/.test(s.message)), 'the error notification');
    assert.equal(m.type, 1, 'an error, not a log line');
    assert.ok(m.message.includes(ws), `names the workspace: ${m.message}`);
    assert.match(m.message, /install Rust with rustup, https:\/\/rustup\.rs/);
    assert.match(m.message, /set CARGO to cargo's path/);
    assert.match(m.message, /run splitlink's Build command/);

    // The user installs Rust: cargo appears in $CARGO_HOME/bin (here a script running the real one
    // with the real environment), then saves.
    fs.mkdirSync(path.join(home, '.cargo/bin'), { recursive: true });
    const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
    const restore = ['PATH', 'HOME', 'CARGO_HOME', 'RUSTUP_HOME'].filter((k) => process.env[k] !== undefined).map((k) => `${k}=${q(process.env[k])}`).join(' ');
    const shim = path.join(home, '.cargo/bin/cargo');
    fs.writeFileSync(shim, `#!/bin/sh\nexec env ${process.env.CARGO_HOME === undefined ? '-u CARGO_HOME ' : ''}${restore} ${q(realCargo)} "$@"\n`);
    fs.chmodSync(shim, 0o755);
    // A save retries even though the bytes are those the failed attempt saw: the user fixed the
    // environment, not the file.
    conn.sendNotification('textDocument/didSave', { textDocument: { uri: pathToFileURL(path.join(ws, 'src/main.rs')).toString() } });
    const ok = await until(() => finished[1], 'the build after an identical save');
    assert.equal(ok.success, true, JSON.stringify(ok));
    assert.equal(ok.error, undefined);
    assert.equal(ok.cargoInvoked, true);
    // And the Build command the message names builds too (replayed now).
    assert.equal(await conn.sendRequest('workspace/executeCommand', { command: 'splitlink.build', arguments: [] }), null);
    const again = await until(() => finished[2], 'the build after splitlink.build');
    assert.equal(again.success, true, JSON.stringify(again));
    // Once a build ran, an identical save is no change again.
    conn.sendNotification('textDocument/didSave', { textDocument: { uri: pathToFileURL(path.join(ws, 'src/main.rs')).toString() } });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(finished.length, 3, `no build for an identical save after a good one: ${JSON.stringify(finished)}`);
  } finally {
    await conn.sendRequest('shutdown').catch(() => {});
    conn.sendNotification('exit');
    if (child.exitCode === null) await new Promise((r) => child.on('exit', r));
    conn.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
