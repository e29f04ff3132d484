// A client that cannot watch files (no dynamic registration of didChangeWatchedFiles, like
// Neovim on Linux): `splitlink lsp` watches the workspace itself, so a change made outside the
// editor (a `git checkout`, a generator) is built and reported without any save notification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import rpc from 'vscode-languageserver-protocol/node';
import { bin, waiter } from './harness.mjs';

test('changes outside the editor are built by the server\'s own watcher', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'splitlink-lsp-watch-'));
  fs.mkdirSync(path.join(ws, 'src'));
  fs.writeFileSync(path.join(ws, 'Cargo.toml'), '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n');
  fs.writeFileSync(path.join(ws, 'src/main.rs'), 'fn main() {\n    println!("one");\n}\n');
  const child = spawn(bin, ['lsp'], { cwd: ws, stdio: ['pipe', 'pipe', 'ignore'] });
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  const finished = [];
  const diags = new Map();
  let registered = false;
  const { wake, until } = waiter(() => `builds ${JSON.stringify(finished)}`);
  conn.onNotification('splitlink/buildFinished', (p) => { finished.push(p); wake(); });
  conn.onNotification('textDocument/publishDiagnostics', (p) => { diags.set(p.uri, p.diagnostics); wake(); });
  conn.onNotification('window/logMessage', () => {});
  conn.onRequest('client/registerCapability', () => { registered = true; return null; });
  conn.listen();
  try {
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(ws).toString(), capabilities: {} });
    conn.sendNotification('initialized', {});
    await until(() => finished.length >= 1, 'first build');
    assert.equal(finished[0].success, true);
    assert.equal(registered, false, 'no registration request to a client that cannot take it');
    // An outside edit: no didSave, no didChangeWatchedFiles.
    fs.writeFileSync(path.join(ws, 'src/main.rs'), 'fn main() {\n    let x: u8 = "two";\n}\n');
    const b = await until(() => finished.find((f) => f.success === false), 'a build of the outside edit');
    assert.equal(b.cargoInvoked, false);
    const uri = pathToFileURL(path.join(ws, 'src/main.rs')).toString();
    await until(() => (diags.get(uri) || []).some((d) => d.code === 'E0308'), 'the type error');
  } finally {
    await conn.sendRequest('shutdown');
    conn.sendNotification('exit');
    await new Promise((r) => child.on('exit', r));
    conn.dispose();
    fs.rmSync(ws, { recursive: true, force: true });
  }
});
