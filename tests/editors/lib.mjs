// Helpers for driving real VS Code (code-server 4.100.3 = VS Code 1.100.3) in headless Chromium.
// code-server comes from tests/editors/install-code-server.sh (into target/editors/code-server),
// Chromium from Debian (/usr/bin/chromium), playwright-core from npm (tests/editors/package.json).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const splitlinkBin = process.env.SPLITLINK_BIN || path.join(repo, 'target/debug/splitlink');
export const codeServerDir = process.env.CODE_SERVER_DIR || path.join(repo, 'target/editors/code-server');
export const codeServerBin = path.join(codeServerDir, 'node_modules/.bin/code-server');
export const chromiumBin = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const artifacts = path.join(repo, 'target/editors/artifacts');

/** Fails loudly (no skip) when something the tests need is not installed. */
export function requireTools() {
  const missing = [];
  if (!fs.existsSync(splitlinkBin)) missing.push(`splitlink binary ${splitlinkBin} (cargo build -p splitlink)`);
  if (!fs.existsSync(codeServerBin)) missing.push(`code-server ${codeServerBin} (bash tests/editors/install-code-server.sh ${codeServerDir})`);
  if (!fs.existsSync(chromiumBin)) missing.push(`Chromium ${chromiumBin} (apt-get install chromium)`);
  if (missing.length) throw new Error(`cannot run the VS Code tests, missing:\n  ${missing.join('\n  ')}\n(bash tests/editors/run.sh installs them)`);
}

/** The fixture workspace: `ffi` calls an extern function defined nowhere (line 6 of ffi/src/lib.rs). */
export const FIXTURE = {
  'Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["app", "ffi"]\n',
  'ffi/Cargo.toml': '[package]\nname = "ffi"\nversion = "0.1.0"\nedition = "2021"\n',
  'ffi/src/lib.rs': 'unsafe extern "C" {\n    fn not_defined_anywhere(x: i32) -> i32;\n}\n\npub fn call_it(x: i32) -> i32 {\n    unsafe { not_defined_anywhere(x) }\n}\n\npub fn fine() -> i32 {\n    5\n}\n',
  'app/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nffi = { path = "../ffi" }\n',
  'app/src/main.rs': 'fn main() {\n    println!("{}", ffi::fine());\n}\n',
};

export function writeTree(root, files) {
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), typeof c === 'string' ? c : JSON.stringify(c, null, 2));
  }
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, pred, ms, every = 100) {
  const t0 = Date.now();
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** The environment of code-server and everything it starts: a temp HOME, the toolchain kept. */
export function isolatedEnv(home) {
  const env = { ...process.env };
  env.RUSTUP_HOME = env.RUSTUP_HOME || path.join(os.homedir(), '.rustup');
  env.CARGO_HOME = env.CARGO_HOME || path.join(os.homedir(), '.cargo');
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
  });
  // VS Code resolves the extension host's environment from a login shell (`bash -ilc env`), which
  // runs /etc/profile (resetting PATH) and then ~/.profile: give the temp HOME the profile a Rust
  // user has, so cargo and rustc stay on PATH as they are here.
  fs.mkdirSync(home, { recursive: true });
  const q = (v) => `'${String(v).replace(/'/g, `'\\''`)}'`;
  const profile = `export PATH=${q(env.PATH)}\nexport RUSTUP_HOME=${q(env.RUSTUP_HOME)}\nexport CARGO_HOME=${q(env.CARGO_HOME)}\n`;
  fs.writeFileSync(path.join(home, '.profile'), profile);
  fs.writeFileSync(path.join(home, '.bashrc'), profile);
  for (const k of ['CARGO_TARGET_DIR', 'RUSTFLAGS', 'CARGO_ENCODED_RUSTFLAGS', 'RUSTC_WRAPPER', 'RUSTC_WORKSPACE_WRAPPER', 'VSCODE_IPC_HOOK_CLI', 'VSCODE_CWD', 'ELECTRON_RUN_AS_NODE']) delete env[k];
  return env;
}

/** User settings for a clean, quiet workbench that uses the splitlink binary under test. */
export function userSettings(extra = {}) {
  return {
    'splitlink.server.path': splitlinkBin,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'git.enabled': false,
    'files.autoSave': 'off',
    'editor.minimap.enabled': false,
    'chat.commandCenter.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    ...extra,
  };
}

/**
 * Starts code-server on a free loopback port, in its own process group.
 * Returns { port, url, stop(), log() }.
 */
export async function startCodeServer({ dir, env, extensionsDir, userDataDir, settings }) {
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User/settings.json'), JSON.stringify(settings, null, 2));
  fs.mkdirSync(extensionsDir, { recursive: true });
  const port = await freePort();
  const logFile = path.join(dir, 'code-server.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(
    codeServerBin,
    [
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--user-data-dir', userDataDir,
      '--extensions-dir', extensionsDir,
    ],
    { env, cwd: dir, detached: true, stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const url = `http://127.0.0.1:${port}`;
  const log = () => fs.readFileSync(logFile, 'utf8');
  await waitFor(`code-server to listen on ${url} (log: ${logFile})`, async () => {
    if (exited) throw new Error(`code-server exited (${JSON.stringify(exited)}):\n${log()}`);
    try {
      const r = await fetch(`${url}/healthz`);
      return r.ok;
    } catch {
      return false;
    }
  }, 60000, 200);
  const stop = async () => {
    if (exited) return;
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    const t0 = Date.now();
    while (!exited && Date.now() - t0 < 5000) await sleep(50);
    if (!exited) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
  };
  return { port, url, stop, log, logFile };
}

/** Installs a .vsix with code-server's own CLI into an extensions dir. */
export function installVsix({ vsix, env, extensionsDir, userDataDir }) {
  return new Promise((resolve, reject) => {
    const child = spawn(codeServerBin, ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`code-server --install-extension ${vsix} exited ${code}:\n${out}`))));
  });
}

/** Headless Chromium (Debian's) through playwright-core. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumBin,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Waits for the workbench to be up in a page. */
export async function waitForWorkbench(page, ms = 90000) {
  await page.waitForSelector('.monaco-workbench', { timeout: ms });
  await page.waitForSelector('.statusbar', { timeout: ms });
}
