// What the small LSP tests share: the server binary, a package to serve, starting and stopping
// the server, and waiting for a condition that notifications make true (call `wake()` from every
// handler).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import rpc from 'vscode-languageserver-protocol/node';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = process.env.SPLITLINK_BIN || path.join(repo, 'target/debug/splitlink');

/** `until(pred, what)` resolves with pred()'s first truthy value; `describe()` goes in the timeout message. */
export function waiter(describe) {
  let check = () => {};
  const wake = () => check();
  const until = (pred, what, ms = 90000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out: ${what}; ${describe()}`)), ms);
    check = () => { const v = pred(); if (v) { clearTimeout(t); resolve(v); } };
    check();
  });
  return { wake, until };
}

/** A temporary package `app` (a bin) with `src/main.rs` = mainRs: { ws, main, uri }. */
export function appPackage(prefix, mainRs) {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), `splitlink-lsp-${prefix}-`));
  fs.mkdirSync(path.join(ws, 'src'));
  fs.writeFileSync(path.join(ws, 'Cargo.toml'), '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n');
  const main = path.join(ws, 'src/main.rs');
  fs.writeFileSync(main, mainRs);
  return { ws, main, uri: pathToFileURL(main).toString() };
}

/** The caller's environment without a target-dir override (the tests' servers build in ws/target). */
export function testEnv() {
  const env = { ...process.env };
  delete env.CARGO_TARGET_DIR;
  return env;
}

/** `splitlink lsp` in ws over stdio, with no-op handlers for what the tests may ignore (a test's
 * own handler for the same method replaces them); the caller calls `conn.listen()`. */
export function startServer(ws, env = testEnv()) {
  const child = spawn(bin, ['lsp'], { cwd: ws, env, stdio: ['pipe', 'pipe', 'ignore'] });
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  for (const m of ['window/logMessage', 'window/showMessage', '$/progress', 'splitlink/buildFinished']) conn.onNotification(m, () => {});
  conn.onRequest('window/workDoneProgress/create', () => null);
  return { child, conn };
}

/** Shuts the server down as an editor would, waits for it to exit and removes ws. */
export async function stopServer({ child, conn }, ws) {
  await conn.sendRequest('shutdown');
  conn.sendNotification('exit');
  if (child.exitCode === null) await new Promise((r) => child.on('exit', r));
  conn.dispose();
  fs.rmSync(ws, { recursive: true, force: true });
}
