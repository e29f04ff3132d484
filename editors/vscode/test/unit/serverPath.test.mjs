// Finding the splitlink executable from splitlink.server.path, on a real file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveServerPath, isExecutableFile } from '../../out/lib/serverPath.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'splitlink-path-'));
const bin1 = path.join(tmp, 'bin1'), bin2 = path.join(tmp, 'bin2'), home = path.join(tmp, 'home'), wsDir = path.join(tmp, 'ws');
for (const d of [bin1, bin2, path.join(home, '.cargo/bin'), path.join(wsDir, 'tools')]) fs.mkdirSync(d, { recursive: true });
const exe = (f) => { fs.writeFileSync(f, '#!/bin/sh\n'); fs.chmodSync(f, 0o755); return f; };
exe(path.join(bin2, 'splitlink'));
fs.writeFileSync(path.join(bin1, 'splitlink'), 'not executable'); // on PATH first, but not executable
exe(path.join(home, '.cargo/bin/splitlink'));
exe(path.join(wsDir, 'tools/splitlink'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('a bare name is looked up on PATH, skipping non-executables', () => {
  assert.ok(!isExecutableFile(path.join(bin1, 'splitlink')));
  const r = resolveServerPath('splitlink', { PATH: `${bin1}:${bin2}` });
  assert.deepEqual(r, { ok: true, path: path.join(bin2, 'splitlink') });
  assert.deepEqual(resolveServerPath('', { PATH: bin2 }), { ok: true, path: path.join(bin2, 'splitlink') }, 'empty setting means splitlink');
  assert.deepEqual(resolveServerPath(undefined, { PATH: bin2 }).ok, true);
});

test('not on PATH: a clear reason', () => {
  const r = resolveServerPath('splitlink', { PATH: bin1 });
  assert.equal(r.ok, false);
  assert.match(r.reason, /`splitlink` is not on PATH/);
});

test('absolute, ~ and ${workspaceFolder} paths', () => {
  assert.equal(resolveServerPath(path.join(bin2, 'splitlink'), { PATH: '' }).ok, true);
  assert.deepEqual(resolveServerPath('~/.cargo/bin/splitlink', { home, PATH: '' }), { ok: true, path: path.join(home, '.cargo/bin/splitlink') });
  assert.deepEqual(resolveServerPath('${workspaceFolder}/tools/splitlink', { workspaceFolder: wsDir, PATH: '' }), { ok: true, path: path.join(wsDir, 'tools/splitlink') });
  assert.deepEqual(resolveServerPath('tools/splitlink', { workspaceFolder: wsDir, PATH: '' }), { ok: true, path: path.join(wsDir, 'tools/splitlink') });
  const missing = resolveServerPath('/nonexistent/splitlink', { PATH: bin2 });
  assert.equal(missing.ok, false);
  assert.match(missing.reason, /\/nonexistent\/splitlink does not exist or is not executable/);
});

test('Windows: PATHEXT extensions', () => {
  const seen = [];
  const r = resolveServerPath('splitlink', { platform: 'win32', PATH: 'C:\\a;C:\\b', PATHEXT: '.EXE', isExecutable: (f) => { seen.push(f); return f.endsWith('splitlink.EXE') && f.includes('b'); } });
  assert.equal(r.ok, true);
  assert.ok(seen.length >= 3);
});
