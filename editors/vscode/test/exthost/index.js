// Extension-host tests: loaded by real VS Code (code-server) as `extensionTestsPath`, with the
// extension under development loaded from editors/vscode and the real `splitlink lsp` behind it,
// on a fixture workspace whose `ffi` crate calls an extern function defined nowhere.
//
// Environment variables do not reach the extension host, so results go to
// <workspace>/.exthost-results.json (rewritten after every test; `done: true` at the end), which
// tests/editors/vscode.test.mjs polls.
'use strict';
const vscode = require('vscode');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const EXT_ID = 'splitlink.splitlink';
const TIMEOUT = 120000;

const MAIN_FINE = 'fn main() {\n    println!("{}", ffi::fine());\n}\n';
const MAIN_LINK_ERROR = 'fn main() {\n    println!("{}", ffi::call_it(1));\n}\n';
const MAIN_SLEEPS = 'fn main() {\n    println!("value {}", ffi::fine());\n    std::thread::sleep(std::time::Duration::from_secs(600));\n}\n';
const mainWithTest = (n, what) => `fn main() {\n    println!("{}", ffi::fine());\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn fine_is_five() {\n        assert_eq!(ffi::fine(), ${n}, "${what}");\n    }\n}\n`;
const MAIN_COMPILE_ERROR = 'fn main() {\n    let n: u32 = "five";\n    println!("{} {n}", ffi::fine());\n}\n';

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what, pred, ms = TIMEOUT) {
  const t0 = Date.now();
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

exports.run = async function run() {
  const ws = vscode.workspace.workspaceFolders[0].uri.fsPath;
  const resultsFile = path.join(ws, '.exthost-results.json');
  const uri = (p) => vscode.Uri.file(path.join(ws, p));
  const results = [];
  const write = (done) => {
    fs.writeFileSync(resultsFile + '.tmp', JSON.stringify({ done, results }, null, 2));
    fs.renameSync(resultsFile + '.tmp', resultsFile);
  };
  write(false);

  let api;
  const builds = [];
  const statuses = [];
  const runEvents = [];
  /** The next buildFinished after `n` builds were seen. */
  const buildAfter = (n, what = `build #${n + 1}`) => waitFor(what, () => builds.length > n && builds[n]);
  const codeOf = (d) => (typeof d.code === 'object' && d.code !== null ? d.code.value : d.code);
  const linkDiag = () => vscode.languages.getDiagnostics(uri('ffi/src/lib.rs')).find((d) => codeOf(d) === 'link:undefined-symbol');

  /**
   * Waits until no build has finished for `quiet` ms and none is running. A save reaches the server
   * twice (didSave, then the file watcher's didChangeWatchedFiles, which VS Code sends later than
   * the server's 60 ms debounce), so the second, no-op build of the previous step must be over
   * before the next step counts builds.
   */
  async function settle(quiet = 700) {
    let seen = builds.length;
    let since = Date.now();
    await waitFor('builds to settle', () => {
      if (builds.length !== seen || api.statusText() === '$(sync~spin) building') {
        seen = builds.length;
        since = Date.now();
        return false;
      }
      return Date.now() - since >= quiet;
    });
  }

  /** Replaces main.rs through the editor (a real TextDocument edit) and saves it. */
  async function editAndSave(text) {
    await settle();
    const doc = await vscode.workspace.openTextDocument(uri('app/src/main.rs'));
    await vscode.window.showTextDocument(doc);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), text);
    assert.ok(await vscode.workspace.applyEdit(edit), 'edit applied');
    const n = builds.length;
    assert.ok(await doc.save(), 'document saved');
    return buildAfter(n, 'the build after the save');
  }

  async function test(name, fn) {
    const t0 = Date.now();
    try {
      await fn();
      results.push({ name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      results.push({ name, ok: false, ms: Date.now() - t0, error: String((e && e.stack) || e), status: api && api.statusText(), builds: builds.slice(-3) });
    }
    write(false);
  }

  await test('the extension activates in a Cargo workspace and starts splitlink lsp', async () => {
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext, `${EXT_ID} is loaded`);
    assert.equal(ext.packageJSON.capabilities.untrustedWorkspaces.supported, false);
    // activationEvents include workspaceContains:Cargo.toml: VS Code activates it on its own.
    await waitFor('activation by workspaceContains:Cargo.toml', () => ext.isActive, 60000);
    api = ext.exports;
    api.onBuildFinished((b) => builds.push(b));
    api.onDidChangeStatus((s) => statuses.push(s));
    api.onRunStatus((r) => runEvents.push(r));
    const client = await waitFor('a running client', () => api.client() && api.client().isRunning() && api.client(), 60000);
    assert.equal(client.initializeResult.serverInfo.name, 'splitlink');
    assert.deepEqual([...client.initializeResult.capabilities.executeCommandProvider.commands].sort(), ['splitlink.build', 'splitlink.explain', 'splitlink.run', 'splitlink.stop', 'splitlink.test']);
  });

  await test('the first build finishes and the status bar shows its result', async () => {
    const b = await waitFor('the first build', () => api.lastBuild());
    if (!builds.includes(b)) builds.push(b);
    assert.equal(b.success, true, JSON.stringify(b));
    assert.equal(b.workspace, ws);
    assert.deepEqual(b.binaries.map((x) => x.name), ['app']);
    assert.match(api.statusText(), /^\$\(check\) linked \d+\.\d\d s$|^\$\(debug-step-over\) link skipped$/);
  });

  await test('after a save, the linker error shows on ffi/src/lib.rs line 6 with the declaration related', async () => {
    const b = await editAndSave(MAIN_LINK_ERROR);
    assert.equal(b.success, false, JSON.stringify(b));
    const d = await waitFor('the linker diagnostic on ffi/src/lib.rs', linkDiag, 20000);
    assert.equal(d.range.start.line, 5, `0-based line 5 (line 6): ${JSON.stringify(d.range)}`);
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(d.source, 'splitlink');
    assert.match(d.message, /not_defined_anywhere/);
    const rel = (d.relatedInformation || []).find((r) => r.location.uri.fsPath === uri('ffi/src/lib.rs').fsPath && r.location.range.start.line === 1);
    assert.ok(rel, `the extern declaration (line 2) is related: ${JSON.stringify(d.relatedInformation)}`);
    await waitFor('status "link failed"', () => api.statusText() === '$(error) link failed', 10000);
  });

  await test('Build (splitlink.buildWorkspace) runs a build: status building → link failed, a new generation', async () => {
    await settle();
    const n = builds.length;
    const gen = builds[n - 1].generation;
    const s0 = statuses.length;
    await vscode.commands.executeCommand('splitlink.buildWorkspace');
    const b = await buildAfter(n, 'the build the command asked for');
    assert.ok(b.generation > gen, `generation ${b.generation} > ${gen}`);
    assert.equal(b.success, false);
    const seen = statuses.slice(s0);
    assert.ok(seen.includes('$(sync~spin) building'), `status went through building: ${JSON.stringify(seen)}`);
    await waitFor('status "link failed"', () => api.statusText() === '$(error) link failed', 10000);
    assert.ok(linkDiag(), 'the linker diagnostic is still there');
  });

  await test('Explain Last Build shows the server\'s explanation', async () => {
    const text = await vscode.commands.executeCommand('splitlink.explainBuild');
    assert.equal(typeof text, 'string');
    assert.match(text, new RegExp(`workspace ${ws.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(text, /app \(bin\)/);
    const ed = vscode.window.activeTextEditor;
    assert.ok(ed && ed.document.uri.scheme === 'splitlink-explain', 'the explanation is shown in an editor');
    assert.equal(ed.document.getText(), text);
  });

  await test('fixing the call clears the diagnostic; same objects as the last link: link skipped', async () => {
    const b = await editAndSave(MAIN_FINE);
    assert.equal(b.success, true, JSON.stringify(b));
    // All targets are built by default: the binary's unit-test build is skipped too.
    assert.deepEqual([...b.linkSkipped].sort(), ['app', 'app (test)']);
    await waitFor('the linker diagnostic cleared', () => !linkDiag(), 20000);
    await waitFor('status "link skipped"', () => api.statusText() === '$(debug-step-over) link skipped', 10000);
  });

  await test('an edit to the binary relinks: status "linked <time>"; Run starts it, its output arrives, Stop stops it', async () => {
    const b = await editAndSave(MAIN_SLEEPS);
    assert.equal(b.success, true, JSON.stringify(b));
    assert.ok(b.linked.includes('app'), JSON.stringify(b));
    await waitFor('status "linked N s"', () => /^\$\(check\) linked \d+\.\d\d s$/.test(api.statusText()), 10000);
    // A build with nothing to do keeps the result on show.
    await settle();
    const shown = api.statusText();
    const n = builds.length;
    await vscode.commands.executeCommand('splitlink.buildWorkspace');
    const noop = await buildAfter(n, 'the Build command\'s build');
    assert.deepEqual([noop.success, noop.compiled, noop.linked, noop.linkSkipped], [true, [], [], []], JSON.stringify(noop));
    assert.equal(api.statusText(), shown);
    const r0 = runEvents.length;
    await vscode.commands.executeCommand('splitlink.runBinary', 'app');
    const started = await waitFor('runStatus running', () => runEvents.slice(r0).find((r) => r.running));
    assert.equal(started.name, 'app');
    assert.ok(started.pid > 0);
    await waitFor('the binary\'s output', () => api.runOutput().some((l) => l.name === 'app' && l.stream === 'stdout' && l.line === 'value 5'), 20000);
    await vscode.commands.executeCommand('splitlink.stopBinary');
    const stopped = await waitFor('runStatus stopped', () => runEvents.slice(r0).find((r) => !r.running), 20000);
    assert.equal(stopped.name, 'app');
  });

  await test('Run Tests: a failed test is a problem at its panic line and in the test item; fixed, both clear', async () => {
    const testDiag = () => vscode.languages.getDiagnostics(uri('app/src/main.rs')).find((d) => d.source === 'splitlink test');
    const b = await editAndSave(mainWithTest(6, 'fine should be six'));
    assert.equal(b.success, true, JSON.stringify(b));
    assert.ok(b.compiled.includes('app (test)'), `the unit tests are built on save: ${JSON.stringify(b)}`);
    await settle();
    const before = api.lastTestRun();
    await vscode.commands.executeCommand('splitlink.runTests');
    const run = await waitFor('a test run', () => api.lastTestRun() !== before && api.lastTestRun());
    assert.equal(run.success, false, JSON.stringify(run));
    assert.equal(run.failed, 1);
    assert.equal(run.failures[0].test, 'tests::fine_is_five');
    assert.equal(run.failures[0].line, 9);
    const d = await waitFor('the failed test on app/src/main.rs', testDiag, 20000);
    assert.equal(d.range.start.line, 8, JSON.stringify(d.range));
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.match(d.message, /fine should be six/);
    assert.equal(api.testStatusText(), '$(error) 1 failed');
    const fixed = await editAndSave(mainWithTest(5, 'fine should be five'));
    assert.equal(fixed.success, true, JSON.stringify(fixed));
    await settle();
    await vscode.commands.executeCommand('splitlink.runTests');
    const ok = await waitFor('a passing test run', () => api.lastTestRun() !== run && api.lastTestRun());
    assert.equal(ok.success, true, JSON.stringify(ok));
    await waitFor('the test problem cleared', () => !testDiag(), 20000);
    assert.match(api.testStatusText(), /^\$\(pass\) \d+ passed$/);
    await editAndSave(MAIN_FINE);
  });

  await test('settings reach the server: compilerDiagnostics "off" hides compiler errors, "all" brings them back', async () => {
    const cfg = () => vscode.workspace.getConfiguration('splitlink');
    await settle();
    let n = builds.length;
    await cfg().update('compilerDiagnostics', 'off', vscode.ConfigurationTarget.Workspace);
    await buildAfter(n, 'the build after the configuration change'); // the server rebuilds on a change
    const b = await editAndSave(MAIN_COMPILE_ERROR);
    assert.equal(b.success, false);
    const mainDiags = () => vscode.languages.getDiagnostics(uri('app/src/main.rs'));
    assert.deepEqual(mainDiags().map((d) => d.message), [], 'no compiler diagnostics with compilerDiagnostics=off');
    await waitFor('status "build failed"', () => api.statusText() === '$(error) build failed', 10000);
    n = builds.length;
    await cfg().update('compilerDiagnostics', undefined, vscode.ConfigurationTarget.Workspace);
    await buildAfter(n, 'the build after the configuration change back');
    const e = await waitFor('E0308 on main.rs', () => mainDiags().find((d) => codeOf(d) === 'E0308'), 20000);
    assert.equal(e.range.start.line, 1);
    await editAndSave(MAIN_FINE);
  });

  await test('Restart Server starts a new splitlink lsp, which builds again', async () => {
    await settle();
    const before = api.client();
    const n = builds.length;
    await vscode.commands.executeCommand('splitlink.restartServer');
    await waitFor('a new running client', () => api.client() && api.client() !== before && api.client().isRunning());
    const b = await buildAfter(n, 'the new server\'s first build');
    assert.equal(b.success, true, JSON.stringify(b));
  });

  await test('a missing server binary is reported in the status bar, and a fixed path recovers', async () => {
    const cfg = () => vscode.workspace.getConfiguration('splitlink');
    await cfg().update('server.path', '/nonexistent/splitlink', vscode.ConfigurationTarget.Workspace);
    await waitFor('status "splitlink not found"', () => api.statusText() === '$(error) splitlink not found', 20000);
    assert.equal(api.client(), undefined);
    const n = builds.length;
    await cfg().update('server.path', undefined, vscode.ConfigurationTarget.Workspace);
    await waitFor('a running client again', () => api.client() && api.client().isRunning());
    await buildAfter(n, 'a build after recovering');
  });

  write(true);
};
