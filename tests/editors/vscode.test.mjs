// The splitlink VS Code extension in real VS Code (code-server 4.100.3 = VS Code 1.100.3, headless
// Debian Chromium through playwright-core), against the real `splitlink lsp`, cargo, rustc and
// linker, on a workspace whose `ffi` crate calls an extern function defined nowhere.
//
// 1. Extension-host tests: the extension is loaded from editors/vscode (extensionDevelopmentPath)
//    and editors/vscode/test/exthost/index.js runs inside the extension host
//    (extensionTestsPath), asserting through the `vscode` API; it writes its results to a file in
//    the workspace, polled here, and each of its tests becomes a subtest here.
// 2. UI smoke test: the packaged .vsix installed with `code-server --install-extension`, the
//    workbench driven with the keyboard (Ctrl+P, Ctrl+S), the Problems panel must show the
//    linker error; screenshots are kept in target/editors/artifacts/.
//
// Usage: node --test tests/editors/vscode.test.mjs (tests/editors/run.sh installs what it needs).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  FIXTURE, artifacts, installVsix, isolatedEnv, launchBrowser, repo, requireTools, sleep, startCodeServer,
  tempDir, userSettings, waitFor, waitForWorkbench, writeTree,
} from './lib.mjs';

const extDir = path.join(repo, 'editors/vscode');
const vsix = process.env.SPLITLINK_VSIX || path.join(extDir, 'dist/splitlink.vsix');
const keep = process.env.SPLITLINK_KEEP_TMP === '1';

before(() => {
  requireTools();
  fs.rmSync(artifacts, { recursive: true, force: true }); // no stale failure artifacts
  fs.mkdirSync(artifacts, { recursive: true });
});

async function session(name, fn) {
  const dir = tempDir(`splitlink-${name}-`);
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const ws = path.join(dir, 'ws');
  writeTree(ws, FIXTURE);
  const env = isolatedEnv(home);
  const ctx = { dir, ws, env, extensionsDir: path.join(dir, 'extensions'), userDataDir: path.join(dir, 'user-data') };
  let cs, browser, page, ok = false;
  try {
    await fn(ctx, {
      start: async () => {
        cs = await startCodeServer({ dir, env, extensionsDir: ctx.extensionsDir, userDataDir: ctx.userDataDir, settings: userSettings() });
        browser = await launchBrowser();
        page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        page.on('pageerror', (e) => fs.appendFileSync(path.join(dir, 'browser.log'), `pageerror: ${e}\n`));
        page.on('console', (m) => fs.appendFileSync(path.join(dir, 'browser.log'), `${m.type()}: ${m.text()}\n`));
        return { cs, page };
      },
    });
    ok = true;
  } finally {
    if (page && !ok) await page.screenshot({ path: path.join(artifacts, `${name}-failure.png`) }).catch(() => {});
    if (!ok && cs) fs.copyFileSync(cs.logFile, path.join(artifacts, `${name}-code-server.log`));
    if (!ok && fs.existsSync(path.join(dir, 'browser.log'))) fs.copyFileSync(path.join(dir, 'browser.log'), path.join(artifacts, `${name}-browser.log`));
    if (browser) await browser.close().catch(() => {});
    if (cs) await cs.stop();
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`# kept ${dir}`);
  }
}

test('VS Code extension host: the extension against splitlink lsp', { timeout: 8 * 60000 }, async (t) => {
  await session('vscode-exthost', async ({ ws }, { start }) => {
    const { cs, page } = await start();
    const remote = (p) => `vscode-remote://127.0.0.1:${cs.port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(extDir)],
      ['extensionTestsPath', remote(path.join(extDir, 'test/exthost/index.js'))],
    ]);
    await page.goto(`${cs.url}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(payload)}`);
    const resultsFile = path.join(ws, '.exthost-results.json');
    let results;
    try {
      results = await waitFor('the extension-host tests to finish', () => {
        if (!fs.existsSync(resultsFile)) return false;
        const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
        return r.done && r;
      }, 6 * 60000, 250);
    } catch (e) {
      const partial = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '(no results file: the tests did not start)';
      throw new Error(`${e.message}\npartial results: ${partial}\ncode-server log tail:\n${cs.log().slice(-4000)}`);
    }
    assert.ok(results.results.length >= 10, `all extension-host tests ran: ${results.results.map((r) => r.name).join(' | ')}`);
    let failed = 0;
    for (const r of results.results) {
      await t.test(r.name, () => {
        if (!r.ok) {
          failed++;
          throw new Error(`${r.error}\nstatus: ${r.status}\nlast builds: ${JSON.stringify(r.builds)}`);
        }
      });
    }
    assert.equal(failed, 0, `${failed} extension-host test(s) failed`);
  });
});

test('VS Code UI smoke: install the .vsix, open, save, the Problems panel shows the linker error', { timeout: 6 * 60000 }, async () => {
  assert.ok(fs.existsSync(vsix), `${vsix} exists (npm run package in editors/vscode)`);
  await session('vscode-ui', async (ctx, { start }) => {
    const out = await installVsix({ vsix, env: ctx.env, extensionsDir: ctx.extensionsDir, userDataDir: ctx.userDataDir });
    assert.match(out, /splitlink.*successfully installed/i, out);
    const { cs, page } = await start();
    await page.goto(`${cs.url}/?folder=${encodeURIComponent(ctx.ws)}`);
    await waitForWorkbench(page);
    // The extension activates on Cargo.toml and the first build (through cargo) finishes.
    // The extension's status bar item (id: <extension id>.<item id>).
    const status = page.locator('[id="splitlink.splitlink.splitlink.status"]');
    await waitFor('the splitlink status bar item after the first build', async () => /linked \d|link skipped|up to date|built \d/.test(await status.innerText().catch(() => '')), 120000, 250);

    const key = (k) => page.keyboard.press(k);
    // Ctrl+P → app/src/main.rs
    await page.locator('.monaco-workbench').click({ position: { x: 640, y: 300 } });
    await key('Control+P');
    await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: 20000 });
    await page.keyboard.type('app/src/main.rs');
    await page.waitForSelector('.quick-input-list .monaco-list-row', { timeout: 20000 });
    await sleep(300);
    await key('Enter');
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.waitFor({ timeout: 20000 });
    await waitFor('main.rs in the editor', async () => (await page.locator('.tab.active').innerText().catch(() => '')).includes('main.rs'), 20000);
    // Line 2: call the function whose extern symbol is defined nowhere.
    await key('Control+G');
    await page.keyboard.type('2');
    await key('Enter');
    await key('End');
    await key('Shift+Home');
    await page.keyboard.insertText('println!("{}", ffi::call_it(1));');
    await key('Control+S');
    await waitFor('the editor to be saved', async () => !(await page.locator('.tab.active.dirty').count()), 20000);
    const onDisk = fs.readFileSync(path.join(ctx.ws, 'app/src/main.rs'), 'utf8');
    assert.match(onDisk, /ffi::call_it\(1\)/, onDisk);

    await waitFor('status "link failed"', async () => (await status.innerText().catch(() => '')).includes('link failed'), 120000, 250);
    // The Problems panel.
    await key('Control+Shift+M');
    const panel = page.locator('.markers-panel');
    await panel.waitFor({ timeout: 20000 });
    const row = panel.locator('.monaco-list-row', { hasText: 'not_defined_anywhere' }).first();
    await row.waitFor({ timeout: 60000 });
    const panelText = await panel.innerText();
    assert.match(panelText, /lib\.rs/, panelText);
    assert.match(panelText, /\[Ln 6, Col \d+\]/, `the linker error is on line 6: ${panelText}`);
    // Open the file with the error (from the Problems panel) for the screenshot.
    await row.click();
    await waitFor('lib.rs in the editor', async () => (await page.locator('.tab.active').innerText().catch(() => '')).includes('lib.rs'), 20000);
    await page.locator('.editor-instance .squiggly-error').first().waitFor({ timeout: 20000 });
    await page.mouse.move(1000, 400); // no hover over the Problems row in the screenshot
    await sleep(1000);
    await page.screenshot({ path: path.join(artifacts, 'vscode-problems.png') });

    // Clicking the status bar item shows the splitlink output channel with the build summaries.
    await status.click();
    await waitFor('the splitlink output channel', async () => {
      const text = (await page.locator('.part.panel').first().innerText().catch(() => '')).replace(/\u00a0/g, ' ');
      return /splitlink: build #\d+ failed/.test(text);
    }, 20000, 250);

    // A missing binary: the status bar says so and the message's button opens the install
    // instructions (the README inside the installed .vsix).
    writeTree(ctx.ws, { '.vscode/settings.json': { 'splitlink.server.path': '/nonexistent/splitlink' } });
    await waitFor('status "splitlink not found"', async () => (await status.innerText().catch(() => '')).includes('splitlink not found'), 30000, 250);
    const toast = page.locator('.notification-toast', { hasText: '/nonexistent/splitlink' }).first();
    await toast.waitFor({ timeout: 20000 });
    await toast.locator('.monaco-button', { hasText: 'Install Instructions' }).click();
    await page.locator('.tab', { hasText: /Preview readme\.md/i }).first().waitFor({ timeout: 30000 });
    await sleep(2000); // let the preview render for the screenshot
    await page.screenshot({ path: path.join(artifacts, 'vscode-not-found.png') });
  });
});
