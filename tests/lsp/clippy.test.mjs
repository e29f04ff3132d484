// `check = "clippy"`: a save lints with clippy (splitlink clippy) instead of building. The lint
// arrives as a diagnostic with clippy's code and a quick fix from its suggestion; applying the
// fix and saving clears it. Then `clippyArgs: ["-D", "warnings"]` makes it an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { appPackage, startServer, stopServer, waiter } from './harness.mjs';

test('check = clippy: lints on save, with quick fixes, cleared when fixed', async () => {
  const lintful = 'fn answer() -> u32 {\n    return 42;\n}\n\nfn main() {\n    println!("{}", answer());\n}\n';
  const { ws, main, uri } = appPackage('clippy', lintful);
  const server = startServer(ws);
  const { conn } = server;
  const finished = [];
  let diags = [];
  const { wake, until } = waiter(() => `finished ${JSON.stringify(finished)} diags ${JSON.stringify(diags)}`);
  conn.onNotification('splitlink/buildFinished', (p) => { finished.push(p); wake(); });
  conn.onNotification('textDocument/publishDiagnostics', (p) => { if (p.uri === uri) { diags = p.diagnostics; wake(); } });
  conn.listen();
  try {
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(ws).toString(),
      capabilities: { textDocument: { codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix'] } } } } },
      initializationOptions: { splitlink: { check: 'clippy', targets: 'default' } },
    });
    conn.sendNotification('initialized', {});
    conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'rust', version: 1, text: lintful } });
    await until(() => finished.length >= 1, 'the first lint run');
    assert.equal(finished[0].success, true, JSON.stringify(finished[0]));
    assert.deepEqual(finished[0].binaries, [], 'clippy links nothing');
    const lint = await until(() => diags.find((d) => d.code === 'clippy::needless_return'), 'the needless_return lint');
    assert.equal(lint.range.start.line, 1);
    assert.equal(lint.severity, 2, 'a warning');
    const actions = await conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: lint.range, context: { diagnostics: [lint] } });
    const fix = actions.find((a) => a.kind === 'quickfix' && a.edit);
    assert.ok(fix, `a quick fix from clippy's suggestion: ${JSON.stringify(actions)}`);
    // Apply it as the editor would, then save.
    const edits = fix.edit.changes[uri];
    const lines = lintful.split('\n');
    for (const e of [...edits].sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character)) {
      assert.equal(e.range.start.line, e.range.end.line, 'a one-line edit');
      const l = lines[e.range.start.line];
      lines[e.range.start.line] = l.slice(0, e.range.start.character) + e.newText + l.slice(e.range.end.character);
    }
    const fixed = lines.join('\n');
    assert.match(fixed, /^\s*42\s*$/m, fixed);
    fs.writeFileSync(main, fixed);
    conn.sendNotification('textDocument/didSave', { textDocument: { uri } });
    await until(() => finished.length >= 2 && !diags.some((d) => String(d.code).startsWith('clippy::')), 'the lint cleared after the fix');
    assert.equal(finished[1].cargoInvoked, false, 'replayed, not through cargo');

    // Lint flags: -D warnings turns a lint into an error.
    fs.writeFileSync(main, lintful);
    conn.sendNotification('workspace/didChangeConfiguration', { settings: { splitlink: { check: 'clippy', targets: 'default', clippyArgs: ['-D', 'warnings'] } } });
    conn.sendNotification('textDocument/didSave', { textDocument: { uri } });
    const err = await until(() => diags.find((d) => d.code === 'clippy::needless_return' && d.severity === 1), 'the lint as an error');
    assert.equal(err.range.start.line, 1);
    await until(() => finished.some((f) => f.success === false), 'a failed run');
  } finally {
    await stopServer(server, ws);
  }
});
