// Living beside rust-analyzer (or a terminal `cargo build`): when another cargo holds the build
// directory's lock, the build's progress says "waiting for another cargo process" instead of a
// silent spinner, and the build completes once the lock is released. The other cargo is real:
// `cargo build` of the same workspace, whose build script sleeps while SLOW is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { appPackage, startServer, stopServer, testEnv, waiter } from './harness.mjs';

test('a build blocked by another cargo says so in its progress, then completes', async () => {
  const { ws } = appPackage('lock', 'fn main() {\n    println!("one");\n}\n');
  fs.writeFileSync(path.join(ws, 'build.rs'), 'fn main() {\n    println!("cargo:rerun-if-env-changed=SLOW");\n    if std::env::var_os("SLOW").is_some() {\n        std::thread::sleep(std::time::Duration::from_secs(6));\n    }\n}\n');
  const env = testEnv();
  // The other cargo: holds target/'s lock for about 6 s.
  const other = spawn('cargo', ['build'], { cwd: ws, env: { ...env, SLOW: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let otherErr = '';
  other.stderr.on('data', (d) => { otherErr += d; });
  const deadline = Date.now() + 60000;
  while (!otherErr.includes('Compiling app') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(otherErr.includes('Compiling app'), `the other cargo started: ${otherErr}`);

  const server = startServer(ws, env);
  const { conn } = server;
  const finished = [];
  const reports = [];
  const { wake, until } = waiter(() => `progress ${JSON.stringify(reports)}`);
  conn.onNotification('splitlink/buildFinished', (p) => { finished.push(p); wake(); });
  conn.onNotification('$/progress', (p) => { if (p.value && p.value.message) reports.push(p.value.message); wake(); });
  conn.listen();
  try {
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(ws).toString(), capabilities: { window: { workDoneProgress: true } } });
    conn.sendNotification('initialized', {});
    const waiting = await until(() => reports.find((m) => /waiting for another cargo process/.test(m)), 'the lock-wait report');
    assert.match(waiting, /file lock/);
    const b = await until(() => finished[0], 'the build after the lock is released');
    assert.equal(b.success, true, JSON.stringify(b));
    if (other.exitCode === null) await new Promise((r) => other.on('exit', r));
    assert.equal(other.exitCode, 0, otherErr);
  } finally {
    other.kill();
    await stopServer(server, ws);
  }
});
