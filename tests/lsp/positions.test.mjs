// Columns: rustc counts characters; LSP's default position encoding is UTF-16, so an emoji
// (two UTF-16 units) earlier on the line moves the diagnostic by one. A client that offers UTF-32
// gets characters (and the server says so in `positionEncoding`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import rpc from 'vscode-languageserver-protocol/node';
import { bin, waiter } from './harness.mjs';

const line = '    let s = "🦀"; let x: u8 = s;';
const source = `fn main() {\n${line}\n    let _ = x;\n}\n`;

async function columnOfTheError(encodings) {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'splitlink-lsp-pos-'));
  fs.mkdirSync(path.join(ws, 'src'));
  fs.writeFileSync(path.join(ws, 'Cargo.toml'), '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n');
  const main = path.join(ws, 'src/main.rs');
  fs.writeFileSync(main, source);
  const uri = pathToFileURL(main).toString();
  const env = { ...process.env };
  delete env.CARGO_TARGET_DIR;
  const child = spawn(bin, ['lsp'], { cwd: ws, env, stdio: ['pipe', 'pipe', 'ignore'] });
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  let diags = [];
  const { wake, until } = waiter(() => JSON.stringify(diags));
  conn.onNotification('textDocument/publishDiagnostics', (p) => { if (p.uri === uri) { diags = p.diagnostics; wake(); } });
  conn.onNotification('window/logMessage', () => {});
  conn.onNotification('window/showMessage', () => {});
  conn.onNotification('$/progress', () => {});
  conn.onNotification('splitlink/buildFinished', () => {});
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.listen();
  try {
    const general = encodings ? { positionEncodings: encodings } : undefined;
    const init = await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(ws).toString(), capabilities: { general } });
    conn.sendNotification('initialized', {});
    const e = await until(() => diags.find((d) => d.code === 'E0308'), 'the mismatched-types error');
    return { encoding: init.capabilities.positionEncoding, start: e.range.start };
  } finally {
    await conn.sendRequest('shutdown');
    conn.sendNotification('exit');
    if (child.exitCode === null) await new Promise((r) => child.on('exit', r));
    conn.dispose();
    fs.rmSync(ws, { recursive: true, force: true });
  }
}

test('diagnostic columns in the client\'s position encoding', async () => {
  const sAt = line.lastIndexOf('s'); // UTF-16 index (JavaScript strings are UTF-16)
  const chars = [...line.slice(0, sAt)].length;
  assert.equal(sAt, chars + 1, 'the crab is two UTF-16 units');
  const utf16 = await columnOfTheError(undefined);
  assert.equal(utf16.encoding, 'utf-16');
  assert.deepEqual(utf16.start, { line: 1, character: sAt });
  const utf32 = await columnOfTheError(['utf-32', 'utf-16']);
  assert.equal(utf32.encoding, 'utf-32');
  assert.deepEqual(utf32.start, { line: 1, character: chars });
});
