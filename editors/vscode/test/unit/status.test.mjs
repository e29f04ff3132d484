// Status bar logic (no VS Code needed): node --test test/unit/ after `node scripts/build.mjs --lib`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, onProgress, onBuildFinished, isNoop, statusView, buildSummaryLine, isLinkCode, testView, testSummaryLine } from '../../out/lib/status.mjs';

const build = (over = {}) => ({
  workspace: '/ws', generation: 3, success: true, cancelled: false, cargoInvoked: false,
  compiled: ['app'], linked: [], linkSkipped: [], durationMs: 410, binaries: [{ name: 'app', path: '/ws/target/debug/app' }],
  ...over,
});
const text = (b, errors) => statusView({ kind: 'finished', build: b }, errors).text;

test('durations read like the terminal', () => {
  assert.equal(formatDuration(410), '0.41 s');
  assert.equal(formatDuration(0), '0.00 s');
  assert.equal(formatDuration(9994), '9.99 s');
  assert.equal(formatDuration(12345), '12.3 s');
  assert.equal(formatDuration(123456), '123 s');
  assert.equal(formatDuration(-5), '0.00 s');
});

test('a successful relink shows the timing', () => {
  assert.equal(text(build({ linked: ['app'] })), '$(check) linked 0.41 s');
});

test('a skipped link says so', () => {
  assert.equal(text(build({ linkSkipped: ['app'] })), '$(debug-step-over) link skipped');
  // linked wins when one binary linked and another skipped
  assert.equal(text(build({ linked: ['a'], linkSkipped: ['b'] })), '$(check) linked 0.41 s');
});

test('a failed build: link failed when linker errors are shown, else build failed', () => {
  const v = statusView({ kind: 'finished', build: build({ success: false }) }, { link: 1, compile: 0 });
  assert.equal(v.text, '$(error) link failed');
  assert.equal(v.severity, 'error');
  assert.match(v.tooltip, /1 linker, 0 compiler/);
  assert.equal(text(build({ success: false }), { link: 0, compile: 2 }), '$(error) build failed');
});

test('cancelled, could-not-start, nothing to do', () => {
  assert.equal(text(build({ cancelled: true, success: false })), '$(circle-slash) build cancelled');
  const v = statusView({ kind: 'finished', build: build({ success: false, error: 'no Cargo.toml' }) });
  assert.equal(v.text, '$(error) build error');
  assert.match(v.tooltip, /no Cargo\.toml/);
  assert.equal(text(build({ compiled: [], durationMs: 12 })), '$(check) up to date 0.01 s');
  assert.equal(text(build({ compiled: ['lib'], durationMs: 1500 })), '$(check) built 1.50 s');
});

test('progress drives the building state', () => {
  let s = { kind: 'finished', build: build() };
  s = onProgress(s, { kind: 'begin', title: 'splitlink', message: 'building', cancellable: true });
  assert.deepEqual(s, { kind: 'building', step: 'building', previous: build() });
  assert.equal(statusView(s).text, '$(sync~spin) building');
  s = onProgress(s, { kind: 'report', message: 'compiling app' });
  assert.equal(s.step, 'compiling app');
  assert.match(statusView(s).tooltip, /compiling app/);
  s = onProgress(s, { kind: 'report' });
  assert.equal(s.step, 'compiling app', 'a report without a message keeps the step');
  s = onProgress(s, { kind: 'end', message: 'done in 41 ms' });
  assert.equal(s.kind, 'building', 'stays building until splitlink/buildFinished');
  const idle = { kind: 'stopped' };
  assert.equal(onProgress(idle, { kind: 'end' }), idle);
});

test('server missing / stopped / starting', () => {
  const v = statusView({ kind: 'notFound', path: 'splitlink' });
  assert.equal(v.text, '$(error) splitlink not found');
  assert.match(v.tooltip, /splitlink\.server\.path/);
  assert.equal(statusView({ kind: 'starting' }).text, '$(sync~spin) splitlink');
  assert.equal(statusView({ kind: 'stopped' }).severity, 'warning');
});

test('tooltip and output line describe the build', () => {
  const b = build({ cargoInvoked: true, compiled: ['ffi', 'app'], linked: ['app'] });
  const v = statusView({ kind: 'finished', build: b });
  assert.match(v.tooltip, /build #3/);
  assert.match(v.tooltip, /cargo: invoked/);
  assert.match(v.tooltip, /compiled: `ffi`, `app`/);
  assert.equal(buildSummaryLine(b), 'build #3 ok in 0.41 s; through cargo; compiled ffi, app; linked app');
  assert.equal(buildSummaryLine(build({ success: false, compiled: [] })), 'build #3 failed in 0.41 s');
});

test('linker diagnostic codes are recognised in every shape VS Code uses', () => {
  assert.ok(isLinkCode('link:undefined-symbol'));
  assert.ok(isLinkCode({ value: 'link:duplicate-symbol', target: {} }));
  assert.ok(!isLinkCode('E0308'));
  assert.ok(!isLinkCode({ value: 'E0308' }));
  assert.ok(!isLinkCode(42));
  assert.ok(!isLinkCode(undefined));
});

test('a build with nothing to do keeps showing the last result', () => {
  const linked = build({ generation: 4, linked: ['app'] });
  const noop = build({ generation: 5, compiled: [], durationMs: 1 });
  assert.ok(isNoop(noop));
  assert.ok(!isNoop(linked));
  assert.ok(!isNoop(build({ compiled: [], cargoInvoked: true })), 'a capture is not nothing');
  let s = onBuildFinished({ kind: 'starting' }, linked);
  s = onProgress(s, { kind: 'begin', message: 'building' });
  s = onBuildFinished(s, noop);
  const v = statusView(s);
  assert.equal(v.text, '$(check) linked 0.41 s');
  assert.match(v.tooltip, /Latest build #5: nothing to do \(0\.00 s\)/);
  // but not over a failure, nor across workspaces, and a real build replaces it
  assert.equal(statusView(onBuildFinished({ kind: 'finished', build: build({ success: false }) }, noop)).text, '$(check) up to date 0.00 s');
  assert.equal(statusView(onBuildFinished({ kind: 'finished', build: build({ workspace: '/other', linked: ['x'] }) }, noop)).text, '$(check) up to date 0.00 s');
  assert.equal(statusView(onBuildFinished(s, build({ linkSkipped: ['app'] }))).text, '$(debug-step-over) link skipped');
});

const run = (over = {}) => ({
  workspace: '/ws', success: true, stopped: false, ran: 2, unchanged: 5, passed: 8, failed: 0, ignored: 1,
  durationMs: 1200, failures: [], crashed: [], ...over,
});

test('a fast-mode build says so in the text and the tooltip', () => {
  const v = statusView({ kind: 'finished', build: build({ linked: ['app'], fastLinker: 'wild 0.10.0 (/usr/bin/wild)' }) });
  assert.equal(v.text, '$(check) linked 0.41 s (fast)');
  assert.match(v.tooltip, /fast mode: linked with wild 0\.10\.0/);
  assert.equal(text(build({ linked: ['app'] })), '$(check) linked 0.41 s', 'exact mode: no mark');
});

test('the test item: idle, running, passed, failed (with where), crashed, not run', () => {
  assert.equal(testView({ kind: 'idle' }).text, '$(beaker) Test');
  assert.equal(testView({ kind: 'running' }).text, '$(sync~spin) testing');
  const ok = testView({ kind: 'finished', run: run() });
  assert.equal(ok.text, '$(pass) 8 passed');
  assert.match(ok.tooltip, /unchanged since they last passed: 5/);
  const failure = { binary: 'util (lib test)', test: 'tests::adds', uri: 'file:///ws/util/src/lib.rs', line: 14, column: 9, message: 'assertion `left == right` failed\n  left: 1' };
  const bad = testView({ kind: 'finished', run: run({ success: false, failed: 1, failures: [failure] }) });
  assert.equal(bad.text, '$(error) 1 failed');
  assert.equal(bad.severity, 'error');
  assert.match(bad.tooltip, /`tests::adds` \(util \(lib test\)\) at line 14: assertion `left == right` failed$/m);
  assert.equal(testView({ kind: 'finished', run: run({ success: false, crashed: ['app::it (test) (signal 6)'] }) }).text, '$(error) tests crashed');
  assert.equal(testView({ kind: 'finished', run: run({ success: false, error: 'the build failed' }) }).text, '$(error) tests not run');
  assert.equal(testSummaryLine(run({ success: false, failed: 1, failures: [failure] })), 'tests FAILED: 8 passed, 1 failed, 1 ignored; 2 binaries run, 5 unchanged; tests::adds failed at line 14');
});

test('a build that could not start (no cargo): the status bar says so and its tooltip carries the reason and the fix', () => {
  // buildFinished.error exactly as `splitlink lsp` sends it without a toolchain (tests/lsp/no-cargo.test.mjs).
  const error = "cannot run cargo: No such file or directory (os error 2) (no `cargo` on PATH, in $CARGO_HOME/bin or ~/.cargo/bin: install Rust with rustup, https://rustup.rs, or set CARGO to cargo's path in the environment splitlink runs in — for an editor, the one it starts `splitlink lsp` with)";
  const v = statusView({ kind: 'finished', build: build({ success: false, compiled: [], durationMs: 0, error }) });
  assert.equal(v.text, '$(error) build error');
  assert.equal(v.severity, 'error');
  assert.match(v.tooltip, /result: could not start/);
  assert.ok(v.tooltip.includes(error), v.tooltip);
  assert.match(buildSummaryLine(build({ success: false, error })), /could not start: cannot run cargo/);
});
