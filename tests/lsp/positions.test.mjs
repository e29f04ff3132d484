// Columns: rustc counts characters; LSP's default position encoding is UTF-16, so an emoji
// (two UTF-16 units) earlier on the line moves the diagnostic by one. A client that offers UTF-32
// gets characters (and the server says so in `positionEncoding`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { appPackage, startServer, stopServer, waiter } from './harness.mjs';

const line = '    let s = "🦀"; let x: u8 = s;';
const source = `fn main() {\n${line}\n    let _ = x;\n}\n`;

async function columnOfTheError(encodings) {
  const { ws, uri } = appPackage('pos', source);
  const server = startServer(ws);
  const { conn } = server;
  let diags = [];
  const { wake, until } = waiter(() => JSON.stringify(diags));
  conn.onNotification('textDocument/publishDiagnostics', (p) => { if (p.uri === uri) { diags = p.diagnostics; wake(); } });
  conn.listen();
  try {
    const general = encodings ? { positionEncodings: encodings } : undefined;
    const init = await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(ws).toString(), capabilities: { general } });
    conn.sendNotification('initialized', {});
    const e = await until(() => diags.find((d) => d.code === 'E0308'), 'the mismatched-types error');
    return { encoding: init.capabilities.positionEncoding, start: e.range.start };
  } finally {
    await stopServer(server, ws);
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
