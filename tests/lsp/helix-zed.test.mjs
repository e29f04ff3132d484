// `splitlink lsp` driven with the exact messages Helix and Zed send, since neither editor can be
// installed here: their `initialize` params (capabilities, clientInfo, root and workspace folders
// as each fills them), the `initialized` notification, `didOpen` of the file, then on each save the
// file written to disk and `didSave` (with the text only when the server asks for it, as both
// decide from the server's `textDocumentSync.save`) and the watched-files event their file watchers
// send for a registered glob. The server's requests are answered as those editors answer them.
// Checks: the compile error is published at its line with rustc's message and cleared after the fix.
//
// Sources of the params (public repositories, read on 2026-12-01):
// - Helix: helix-editor/helix, helix-lsp/src/client.rs, `Client::initialize`, `text_document_did_open`,
//   `text_document_did_save` at commit 0ee961433c215727cd34558654e72a489f6c8bea (master of the 25.07
//   series: pull-diagnostic and showDocument capabilities). Helix starts the server in the root
//   directory (`current_dir(root_path)`), the workspace folder's name is the root's basename, and
//   `initializationOptions` is the `config` table of `[language-server.splitlink]` (absent here, as in
//   docs/editors.md).
// - Zed: zed-industries/zed, crates/lsp/src/lsp.rs, `LanguageServer::default_initialize_params` at
//   commit 00674967c323ec436d0b0c41a014c8882c07aa1e: no processId, no rootPath, one workspace folder
//   with an empty name, clientInfo `Zed`. Zed only starts language servers an extension (or Zed
//   itself) registers: see docs/editors.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import rpc from 'vscode-languageserver-protocol/node';
import { bin, waiter } from './harness.mjs';

const dynamic = (v) => ({ dynamicRegistration: v });

function helixInitialize(root) {
  const uri = pathToFileURL(root).toString();
  return {
    processId: process.pid,
    workspaceFolders: [{ name: path.basename(root), uri }],
    rootPath: root,
    rootUri: uri,
    capabilities: {
      workspace: {
        configuration: true,
        didChangeConfiguration: dynamic(false),
        workspaceFolders: true,
        applyEdit: true,
        symbol: dynamic(false),
        executeCommand: dynamic(false),
        inlayHint: { refreshSupport: false },
        workspaceEdit: {
          documentChanges: true,
          resourceOperations: ['create', 'rename', 'delete'],
          failureHandling: 'abort',
          normalizesLineEndings: false,
        },
        didChangeWatchedFiles: { dynamicRegistration: true, relativePatternSupport: true },
        fileOperations: { willRename: true, didRename: true },
        diagnostic: { refreshSupport: true },
      },
      textDocument: {
        completion: {
          completionItem: {
            snippetSupport: true,
            resolveSupport: { properties: ['documentation', 'detail', 'additionalTextEdits'] },
            insertReplaceSupport: true,
            deprecatedSupport: true,
            tagSupport: { valueSet: [1] },
          },
          completionItemKind: {},
        },
        hover: { contentFormat: ['markdown'] },
        signatureHelp: {
          signatureInformation: {
            documentationFormat: ['markdown'],
            parameterInformation: { labelOffsetSupport: true },
            activeParameterSupport: true,
          },
        },
        rename: { dynamicRegistration: false, prepareSupport: true, honorsChangeAnnotations: false },
        formatting: dynamic(false),
        codeAction: {
          codeActionLiteralSupport: {
            codeActionKind: {
              valueSet: ['', 'quickfix', 'refactor', 'refactor.extract', 'refactor.inline', 'refactor.rewrite', 'source', 'source.organizeImports', 'source.fixAll'],
            },
          },
          isPreferredSupport: true,
          disabledSupport: true,
          dataSupport: true,
          resolveSupport: { properties: ['edit', 'command'] },
        },
        diagnostic: { dynamicRegistration: false, relatedDocumentSupport: true },
        publishDiagnostics: { versionSupport: true, tagSupport: { valueSet: [1, 2] } },
        inlayHint: { dynamicRegistration: false },
      },
      window: { workDoneProgress: true, showDocument: { support: true } },
      general: { positionEncodings: ['utf-8', 'utf-32', 'utf-16'] },
    },
    clientInfo: { name: 'helix', version: '25.07.1 (0ee96143)' }, // VERSION_AND_GIT_HASH: illustrative
  };
}

function zedInitialize(root) {
  const uri = pathToFileURL(root).toString();
  return {
    processId: null,
    rootUri: uri,
    initializationOptions: null,
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      workspace: {
        configuration: true,
        didChangeWatchedFiles: { dynamicRegistration: true, relativePatternSupport: true },
        didChangeConfiguration: dynamic(true),
        workspaceFolders: true,
        symbol: {},
        inlayHint: { refreshSupport: true },
        diagnostic: { refreshSupport: true },
        workspaceEdit: { resourceOperations: ['create', 'rename', 'delete'], documentChanges: true, snippetEditSupport: true },
        fileOperations: { dynamicRegistration: false, didRename: true, willRename: true },
        applyEdit: true,
      },
      textDocument: {
        definition: { linkSupport: true },
        codeAction: {
          codeActionLiteralSupport: { codeActionKind: { valueSet: ['refactor', 'quickfix', 'source'] } },
          dataSupport: true,
          resolveSupport: { properties: ['kind', 'diagnostics', 'isPreferred', 'disabled', 'edit', 'command'] },
        },
        completion: {
          completionItem: {
            snippetSupport: true,
            resolveSupport: { properties: ['additionalTextEdits', 'command', 'documentation'] },
            insertReplaceSupport: true,
            labelDetailsSupport: true,
          },
          completionList: { itemDefaults: ['commitCharacters', 'editRange', 'insertTextMode', 'insertTextFormat', 'data'] },
          contextSupport: true,
        },
        rename: { prepareSupport: true },
        hover: { contentFormat: ['markdown'] },
        inlayHint: {
          resolveSupport: { properties: ['textEdits', 'tooltip', 'label.tooltip', 'label.location', 'label.command'] },
          dynamicRegistration: false,
        },
        publishDiagnostics: { relatedInformation: true },
        formatting: dynamic(true),
        rangeFormatting: dynamic(true),
        onTypeFormatting: dynamic(true),
        signatureHelp: {
          signatureInformation: {
            documentationFormat: ['markdown', 'plaintext'],
            parameterInformation: { labelOffsetSupport: true },
            activeParameterSupport: true,
          },
        },
        synchronization: { didSave: true },
        diagnostic: { dynamicRegistration: false, relatedDocumentSupport: true },
      },
      experimental: { serverStatusNotification: true, localDocs: true },
      window: { workDoneProgress: true, showMessage: {} },
    },
    workspaceFolders: [{ uri, name: '' }],
    clientInfo: { name: 'Zed', version: '0.165.0' }, // the release channel and app version: illustrative
  };
}

/** Whether didSave carries the text, decided from the server's capabilities as Helix and Zed do. */
function includeText(caps) {
  const sync = caps.textDocumentSync;
  if (!sync || typeof sync === 'number') return false;
  const save = sync.save;
  if (save === undefined || save === false) return null; // no didSave at all
  if (save === true) return false;
  return save.includeText === true;
}

async function editorSession(editor, initialize) {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), `splitlink-lsp-${editor}-`));
  fs.mkdirSync(path.join(ws, 'src'));
  fs.writeFileSync(path.join(ws, 'Cargo.toml'), '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n');
  const good = 'fn main() {\n    let n: u32 = 5;\n    println!("{n}");\n}\n';
  const bad = 'fn main() {\n    let n: u32 = "five";\n    println!("{n}");\n}\n';
  fs.writeFileSync(path.join(ws, 'src/main.rs'), good);
  const file = path.join(ws, 'src/main.rs');
  const uri = pathToFileURL(file).toString();

  const env = { ...process.env };
  delete env.CARGO_TARGET_DIR;
  const child = spawn(bin, ['lsp'], { cwd: ws, env, stdio: ['pipe', 'pipe', 'ignore'] });
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  const finished = [];
  const diags = new Map();
  const watchers = [];
  const shown = [];
  const { wake, until } = waiter(() => `${editor}: builds ${JSON.stringify(finished)}; diagnostics ${JSON.stringify([...diags])}; shown ${JSON.stringify(shown)}`);
  conn.onNotification('splitlink/buildFinished', (p) => { finished.push(p); wake(); });
  conn.onNotification('textDocument/publishDiagnostics', (p) => { diags.set(p.uri, p.diagnostics); wake(); });
  conn.onNotification('window/showMessage', (p) => { shown.push(p); wake(); });
  conn.onNotification('window/logMessage', () => {});
  conn.onNotification('$/progress', () => {});
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onRequest('workspace/configuration', (p) => p.items.map(() => null));
  conn.onRequest('client/registerCapability', (p) => {
    for (const r of p.registrations) if (r.method === 'workspace/didChangeWatchedFiles') watchers.push(...r.registerOptions.watchers.map((w) => w.globPattern));
    wake();
    return null;
  });
  conn.listen();
  try {
    const init = await conn.sendRequest('initialize', initialize(ws));
    assert.equal(init.serverInfo.name, 'splitlink');
    // rustc counts characters: UTF-32 when the editor offers it (Helix does), else UTF-16.
    const offered = initialize(ws).capabilities.general?.positionEncodings ?? [];
    assert.equal(init.capabilities.positionEncoding, offered.includes('utf-32') ? 'utf-32' : 'utf-16', JSON.stringify(init.capabilities));
    const withText = includeText(init.capabilities);
    assert.notEqual(withText, null, `${editor} sends didSave only when the server asks for it: ${JSON.stringify(init.capabilities.textDocumentSync)}`);
    conn.sendNotification('initialized', {});
    conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'rust', version: 0, text: good } });
    const first = await until(() => finished[0], 'the first build');
    assert.equal(first.success, true, JSON.stringify(first));
    assert.equal(first.workspace, ws);
    // Both editors watch files for the server when it registers globs.
    await until(() => watchers.includes('**/*.rs'), 'the **/*.rs watcher registration');

    const save = (text) => {
      const n = finished.length;
      fs.writeFileSync(file, text);
      conn.sendNotification('textDocument/didSave', withText ? { textDocument: { uri }, text } : { textDocument: { uri } });
      conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri, type: 2 }] });
      return until(() => finished.slice(n).find((b) => b.success !== undefined && !b.cancelled), `the build after a save (${editor})`);
    };
    const failed = await save(bad);
    assert.equal(failed.success, false, JSON.stringify(failed));
    const d = await until(() => (diags.get(uri) || []).find((x) => x.severity === 1), 'the compile error');
    assert.equal(d.range.start.line, 1, JSON.stringify(d));
    assert.equal(d.range.start.character, 'fn main() {\n    let n: u32 = '.split('\n')[1].length, JSON.stringify(d)); // at "five"
    assert.match(d.message, /mismatched types/);
    assert.equal(d.code, 'E0308');
    assert.equal(d.source, 'splitlink');
    const fixed = await save(good);
    assert.equal(fixed.success, true, JSON.stringify(fixed));
    await until(() => (diags.get(uri) || []).length === 0, 'the error cleared after the fix');
    assert.deepEqual(shown, [], 'no error notification for an ordinary compile error');
  } finally {
    await conn.sendRequest('shutdown').catch(() => {});
    conn.sendNotification('exit');
    if (child.exitCode === null) await new Promise((r) => child.on('exit', r));
    conn.dispose();
    fs.rmSync(ws, { recursive: true, force: true });
  }
}

test('Helix: its initialize, didOpen and didSave; the compile error appears at its line and clears', () => editorSession('helix', helixInitialize));
test('Zed: its initialize (no processId, unnamed workspace folder); the compile error appears and clears', () => editorSession('zed', zedInitialize));
