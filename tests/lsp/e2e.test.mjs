// `splitlink lsp` over stdio, driven by vscode-languageserver-protocol (the library VS Code's
// client uses), on a real Cargo workspace built with the real toolchain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import rpcPkg from 'vscode-languageserver-protocol/node';
const rpc = rpcPkg;

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.SPLITLINK_BIN || path.join(repo, 'target/debug/splitlink');
const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'splitlink-lsp-e2e-'));

const files = {
  'Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["app", "ffi"]\n',
  'ffi/Cargo.toml': '[package]\nname = "ffi"\nversion = "0.1.0"\nedition = "2021"\n',
  'ffi/src/lib.rs': 'unsafe extern "C" {\n    fn not_defined_anywhere(x: i32) -> i32;\n}\n\npub fn call_it(x: i32) -> i32 {\n    unsafe { not_defined_anywhere(x) }\n}\n\npub fn fine() -> i32 {\n    5\n}\n',
  'app/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nffi = { path = "../ffi" }\n',
  'app/src/main.rs': 'fn main() {\n    println!("{}", ffi::fine());\n}\n',
};
for (const [p, c] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(ws, p)), { recursive: true });
  fs.writeFileSync(path.join(ws, p), c);
}
const uri = (p) => pathToFileURL(path.join(ws, p)).toString();

let child, conn;
const diagnostics = new Map();
const finished = [];
const testRuns = [];
const progress = [];
const waiters = [];
const registrations = [];
function notify() { for (const w of [...waiters]) w(); }
function waitFor(pred, what, ms = 60000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const v = pred();
      if (v) { waiters.splice(waiters.indexOf(check), 1); clearTimeout(t); resolve(v); }
    };
    const t = setTimeout(() => { waiters.splice(waiters.indexOf(check), 1); reject(new Error(`timed out waiting for ${what}; builds: ${JSON.stringify(finished)}`)); }, ms);
    waiters.push(check);
    check();
  });
}
const buildAfter = (n) => waitFor(() => finished.length > n && finished[finished.length - 1], `build #${n + 1}`);
async function save(p, text) {
  const n = finished.length;
  fs.mkdirSync(path.dirname(path.join(ws, p)), { recursive: true });
  fs.writeFileSync(path.join(ws, p), text);
  conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri(p) } });
  return buildAfter(n);
}

before(async () => {
  child = spawn(bin, ['lsp'], { cwd: ws, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', () => {});
  conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  conn.onNotification('textDocument/publishDiagnostics', (p) => { diagnostics.set(p.uri, p.diagnostics); notify(); });
  conn.onNotification('splitlink/buildFinished', (p) => { finished.push(p); notify(); });
  conn.onNotification('splitlink/testFinished', (p) => { testRuns.push(p); notify(); });
  conn.onNotification('$/progress', (p) => { progress.push(p); notify(); });
  conn.onNotification('window/logMessage', () => {});
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onRequest('client/registerCapability', (p) => { registrations.push(...p.registrations); notify(); return null; });
  conn.listen();
  const init = await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(ws).toString(),
    workspaceFolders: [{ uri: pathToFileURL(ws).toString(), name: 'ws' }],
    capabilities: {
      window: { workDoneProgress: true },
      textDocument: { publishDiagnostics: { relatedInformation: true } },
      workspace: { didChangeWatchedFiles: { dynamicRegistration: true } },
    },
  });
  assert.ok(init.capabilities.executeCommandProvider.commands.includes('splitlink.build'));
  conn.sendNotification('initialized', {});
  const first = await buildAfter(0);
  assert.equal(first.success, true, JSON.stringify(first));
  assert.equal(first.cargoInvoked, true);
  // The client can watch files: the server asks it to, for sources, manifests, lockfile, config.
  const reg = await waitFor(() => registrations.find((r) => r.method === 'workspace/didChangeWatchedFiles'), 'watcher registration');
  const globs = reg.registerOptions.watchers.map((w) => w.globPattern);
  for (const g of ['**/*.rs', '**/Cargo.toml', '**/Cargo.lock', '**/.cargo/config.toml']) assert.ok(globs.includes(g), globs.join(' '));
});

after(async () => {
  if (!conn) return;
  await conn.sendRequest('shutdown');
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  conn.sendNotification('exit');
  assert.equal(await exited, 0, 'exit after shutdown must exit with code 0');
  conn.dispose();
  fs.rmSync(ws, { recursive: true, force: true });
});

test('a compile error appears at its line and clears after the fix', async () => {
  const b = await save('app/src/main.rs', 'fn main() {\n    let n: u32 = "five";\n    println!("{} {n}", ffi::fine());\n}\n');
  assert.equal(b.success, false);
  const d = await waitFor(() => (diagnostics.get(uri('app/src/main.rs')) || []).find((d) => d.severity === 1), 'compile error');
  assert.match(d.message, /mismatched types/);
  assert.equal(d.range.start.line, 1);
  assert.equal(d.code, 'E0308');
  assert.equal(d.source, 'splitlink');
  assert.ok(d.codeDescription.href.includes('E0308'));
  const fixed = await save('app/src/main.rs', 'fn main() {\n    println!("{}", ffi::fine());\n}\n');
  assert.equal(fixed.success, true);
  await waitFor(() => (diagnostics.get(uri('app/src/main.rs')) || []).length === 0, 'diagnostics cleared');
});

test('a linker error (undefined extern symbol) appears on the call, the declaration related', async () => {
  const b = await save('app/src/main.rs', 'fn main() {\n    println!("{}", ffi::call_it(1));\n}\n');
  assert.equal(b.success, false);
  const d = await waitFor(() => (diagnostics.get(uri('ffi/src/lib.rs')) || []).find((d) => d.code === 'link:undefined-symbol'), 'link diagnostic');
  assert.equal(d.range.start.line, 5, JSON.stringify(d));
  assert.match(d.message, /not_defined_anywhere/);
  const rel = d.relatedInformation.find((r) => r.location.uri === uri('ffi/src/lib.rs') && r.location.range.start.line === 1);
  assert.ok(rel, `extern declaration as related information: ${JSON.stringify(d.relatedInformation)}`);
  // Back to the source of the binary on disk: same objects as its last link, so no link at all.
  const fixed = await save('app/src/main.rs', 'fn main() {\n    println!("{}", ffi::fine());\n}\n');
  assert.equal(fixed.success, true);
  assert.deepEqual(fixed.linked, []);
  // All targets by default: the binary's unit-test build is skipped as well.
  assert.deepEqual(fixed.linkSkipped.sort(), ['app', 'app (test)']);
  await waitFor(() => (diagnostics.get(uri('ffi/src/lib.rs')) || []).length === 0, 'link diagnostic cleared');
});

test('a comment edit compiles but skips the link', async () => {
  const b = await save('app/src/main.rs', 'fn main() { // comment\n    println!("{}", ffi::fine());\n}\n');
  assert.equal(b.success, true);
  assert.equal(b.cargoInvoked, false);
  assert.deepEqual(b.compiled.sort(), ['app', 'app (test)']);
  assert.deepEqual(b.linkSkipped.sort(), ['app', 'app (test)']);
  assert.deepEqual(b.linked, []);
});

test('all targets by default: an error in an integration test appears at its line', async () => {
  const bad = await save('app/tests/it.rs', '#[test]\nfn adds() {\n    let n: u8 = "two";\n    assert_eq!(n, 2);\n}\n');
  assert.equal(bad.success, false, JSON.stringify(bad));
  const d = await waitFor(() => (diagnostics.get(uri('app/tests/it.rs')) || []).find((d) => d.severity === 1), 'error in tests/it.rs');
  assert.equal(d.range.start.line, 2);
  assert.equal(d.code, 'E0308');
  const fixed = await save('app/tests/it.rs', '#[test]\nfn adds() {\n    assert_eq!(1 + 1, 2);\n}\n');
  assert.equal(fixed.success, true, JSON.stringify(fixed));
  assert.ok(fixed.linked.includes('it (test)'), JSON.stringify(fixed));
  await waitFor(() => (diagnostics.get(uri('app/tests/it.rs')) || []).length === 0, 'error cleared');
});

const testAfter = (n) => waitFor(() => testRuns.length > n && testRuns[testRuns.length - 1], `test run #${n + 1}`, 120000);
const withTest = (assertion) => `${files['ffi/src/lib.rs']}\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn fine_is_five() {\n        ${assertion};\n    }\n}\n`;

test('splitlink.test: a failed test is a diagnostic at its panic line, cleared when it passes', async () => {
  const text = withTest('assert_eq!(super::fine(), 6, "fine should be six")');
  const line = text.split('\n').findIndex((l) => l.includes('assert_eq!')); // 0-based
  const b = await save('ffi/src/lib.rs', text);
  assert.equal(b.success, true, JSON.stringify(b));
  let n = testRuns.length;
  await conn.sendRequest('workspace/executeCommand', { command: 'splitlink.test', arguments: [] });
  const failed = await testAfter(n);
  assert.equal(failed.success, false, JSON.stringify(failed));
  assert.equal(failed.failed, 1, JSON.stringify(failed));
  assert.ok(failed.passed >= 1, JSON.stringify(failed)); // tests/it.rs
  const f = failed.failures[0];
  assert.equal(f.test, 'tests::fine_is_five');
  assert.equal(f.uri, uri('ffi/src/lib.rs'));
  assert.equal(f.line, line + 1);
  const d = await waitFor(() => (diagnostics.get(uri('ffi/src/lib.rs')) || []).find((d) => d.source === 'splitlink test'), 'test failure diagnostic');
  assert.equal(d.range.start.line, line);
  assert.equal(d.severity, 1);
  assert.match(d.message, /tests::fine_is_five/);
  assert.match(d.message, /fine should be six/);
  // Fixed: the next run passes and the diagnostic goes.
  const ok = await save('ffi/src/lib.rs', withTest('assert_eq!(super::fine(), 5, "fine should be five")'));
  assert.equal(ok.success, true, JSON.stringify(ok));
  n = testRuns.length;
  await conn.sendRequest('workspace/executeCommand', { command: 'splitlink.test', arguments: [] });
  const passed = await testAfter(n);
  assert.equal(passed.success, true, JSON.stringify(passed));
  assert.equal(passed.failed, 0);
  await waitFor(() => !(diagnostics.get(uri('ffi/src/lib.rs')) || []).some((d) => d.source === 'splitlink test'), 'test diagnostic cleared');
  // Only what changed: nothing relinked since, so no test binary runs again.
  n = testRuns.length;
  await conn.sendRequest('workspace/executeCommand', { command: 'splitlink.test', arguments: [{ changed: true }] });
  const again = await testAfter(n);
  assert.equal(again.success, true, JSON.stringify(again));
  assert.equal(again.ran, 0, JSON.stringify(again));
  assert.ok(again.unchanged >= 3, JSON.stringify(again));
});

test('testOnSave: each successful build runs the test binaries that changed', async () => {
  let n = testRuns.length;
  conn.sendNotification('workspace/didChangeConfiguration', { settings: { splitlink: { testOnSave: true } } });
  const first = await testAfter(n);
  assert.equal(first.success, true, JSON.stringify(first));
  assert.equal(first.ran, 0, `nothing relinked since the last passing run: ${JSON.stringify(first)}`);
  n = testRuns.length;
  const text = withTest('assert_eq!(super::fine(), 7, "fine should be seven")');
  const b = await save('ffi/src/lib.rs', text);
  assert.equal(b.success, true, JSON.stringify(b));
  const failed = await testAfter(n);
  assert.equal(failed.failed, 1, JSON.stringify(failed));
  assert.ok(failed.ran >= 1 && failed.unchanged >= 1, `only the relinked binaries ran: ${JSON.stringify(failed)}`);
  await waitFor(() => (diagnostics.get(uri('ffi/src/lib.rs')) || []).some((d) => d.source === 'splitlink test' && /seven/.test(d.message)), 'failure on save');
  n = testRuns.length;
  await save('ffi/src/lib.rs', withTest('assert_eq!(super::fine(), 5, "fine should be five")'));
  const fixed = await testAfter(n);
  assert.equal(fixed.success, true, JSON.stringify(fixed));
  await waitFor(() => !(diagnostics.get(uri('ffi/src/lib.rs')) || []).some((d) => d.source === 'splitlink test'), 'failure cleared on save');
  conn.sendNotification('workspace/didChangeConfiguration', { settings: { splitlink: { testOnSave: false } } });
  await buildAfter(finished.length);
  await save('ffi/src/lib.rs', files['ffi/src/lib.rs']);
});

test('work-done progress begins and ends for each build', async () => {
  const n = progress.length;
  await save('app/src/main.rs', 'fn main() {\n    println!("{}", ffi::fine() + 1);\n}\n');
  const mine = () => progress.slice(n);
  await waitFor(() => mine().some((p) => p.value.kind === 'end'), 'progress end');
  const kinds = mine().map((p) => p.value.kind);
  assert.equal(kinds[0], 'begin');
  assert.ok(kinds.includes('report'), kinds.join(','));
  assert.ok(mine().some((p) => p.value.kind === 'report' && /linking app/.test(p.value.message || '')), JSON.stringify(mine()));
});

test('executeCommand: explain tells why', async () => {
  const text = await conn.sendRequest('workspace/executeCommand', { command: 'splitlink.explain', arguments: [] });
  assert.match(text, /compiled app \(bin\)/);
  assert.match(text, /linked app \(bin\)/);
});

// A library whose compile takes seconds (const evaluation with a bound no cache holds).
const slowLib = (bound) => `#![allow(long_running_const_eval)]\npub const SLOW: u64 = {\n    let mut i = 0u64;\n    let mut s = 0u64;\n    while i < ${bound} {\n        s = s.wrapping_add(i ^ (s >> 3));\n        i += 1;\n    }\n    s\n};\n${files['ffi/src/lib.rs']}pub fn slow() -> u64 {\n    SLOW % 2\n}\n`;

test('a build in progress blocks nothing: requests are answered, a save is built after it, a cancel stops it', async () => {
  // A save that starts a slow build.
  const n = finished.length;
  const begun = progress.length;
  fs.writeFileSync(path.join(ws, 'ffi/src/lib.rs'), slowLib(3_000_000_001));
  conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri('ffi/src/lib.rs') } });
  await waitFor(() => progress.slice(begun).some((p) => p.value.kind === 'report' && /compiling ffi/.test(p.value.message || '')), 'the slow compile started');
  // The server answers while it builds.
  const t0 = Date.now();
  const text = await conn.sendRequest('workspace/executeCommand', { command: 'splitlink.explain', arguments: [] });
  assert.equal(typeof text, 'string');
  assert.ok(Date.now() - t0 < 2000, `explain took ${Date.now() - t0} ms during a build`);
  assert.equal(finished.length, n, 'the slow build is still running');
  // A save during the build: it is taken now and built after the running build.
  fs.writeFileSync(path.join(ws, 'ffi/src/lib.rs'), slowLib(3_000_000_002));
  conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri('ffi/src/lib.rs') } });
  // The client's cancel button reaches the running build.
  const token = progress.slice(begun).find((p) => p.value.kind === 'begin').token;
  conn.sendNotification('window/workDoneProgress/cancel', { token });
  const cancelled = await buildAfter(n);
  assert.equal(cancelled.cancelled, true, JSON.stringify(cancelled));
  // The save made during it starts the next build; cancel that one too, then restore the file.
  await waitFor(() => finished.length === n + 1 && progress.slice(begun).filter((p) => p.value.kind === 'begin').length >= 2, 'the queued build started');
  const second = progress.slice(begun).filter((p) => p.value.kind === 'begin')[1].token;
  conn.sendNotification('window/workDoneProgress/cancel', { token: second });
  const again = await buildAfter(n + 1);
  assert.equal(again.cancelled, true, JSON.stringify(again));
  const restored = await save('ffi/src/lib.rs', files['ffi/src/lib.rs']);
  assert.equal(restored.success, true, JSON.stringify(restored));
});
