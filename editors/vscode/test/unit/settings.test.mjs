// Settings → the server's initializationOptions / didChangeConfiguration (docs/lsp-extensions.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toServerSettings, didChangeConfigurationParams, changeKind, SERVER_KEYS } from '../../out/lib/settings.mjs';

// What VS Code's getConfiguration('splitlink').get returns with package.json's defaults.
const pkg = JSON.parse(await (await import('node:fs/promises')).readFile(new URL('../../package.json', import.meta.url)));
const props = pkg.contributes.configuration.properties;
const defaults = (over = {}) => (k) => (k in over ? over[k] : props[`splitlink.${k}`]?.default);

test('defaults map to the server defaults, with only the keys the server reads', () => {
  assert.deepEqual(toServerSettings(defaults()), {
    profile: 'dev', features: [], allFeatures: false, noDefaultFeatures: false,
    compilerDiagnostics: 'all', runOnLink: false, runArgs: [],
    targets: 'all', testOnSave: false, testArgs: [], fast: false, check: 'build', clippyArgs: [],
  });
});

test('every server setting is contributed in package.json, and every contributed one is known', () => {
  for (const k of SERVER_KEYS) assert.ok(props[`splitlink.${k}`], `splitlink.${k} is contributed`);
  const known = new Set([...SERVER_KEYS, 'server.path', 'trace.server']);
  for (const k of Object.keys(props)) assert.ok(known.has(k.replace(/^splitlink\./, '')), `${k} is handled`);
  assert.deepEqual(props['splitlink.compilerDiagnostics'].enum, ['all', 'errors', 'off']);
  assert.deepEqual(props['splitlink.targets'].enum, ['all', 'default']);
  assert.deepEqual(props['splitlink.check'].enum, ['build', 'clippy']);
});

test('values are passed through', () => {
  const s = toServerSettings(defaults({
    bin: 'app', profile: 'release', features: ['serde', 'tokio'], allFeatures: true, noDefaultFeatures: true,
    compilerDiagnostics: 'off', runOnLink: true, runArgs: ['--port', '8080'],
    targets: 'default', testOnSave: true, testArgs: ['--include-ignored'], testTimeout: 30, fast: true,
    check: 'clippy', clippyArgs: ['-D', 'warnings'],
  }));
  assert.deepEqual(s, {
    bin: 'app', profile: 'release', features: ['serde', 'tokio'], allFeatures: true, noDefaultFeatures: true,
    compilerDiagnostics: 'off', runOnLink: true, runArgs: ['--port', '8080'],
    targets: 'default', testOnSave: true, testArgs: ['--include-ignored'], testTimeout: 30, fast: true,
    check: 'clippy', clippyArgs: ['-D', 'warnings'],
  });
});

test('values the server would reject are normalised instead of resetting everything', () => {
  const s = toServerSettings(defaults({ bin: '  ', profile: '', features: ['a,b c', '', 3], compilerDiagnostics: 'some', runOnLink: 'yes', runArgs: 'x' }));
  assert.equal('bin' in s, false, 'an empty bin is left out (the server picks the first binary)');
  assert.equal(s.profile, 'dev');
  assert.deepEqual(s.features, ['a', 'b', 'c']);
  assert.equal(s.compilerDiagnostics, 'all');
  assert.equal(s.runOnLink, false);
  assert.deepEqual(s.runArgs, []);
  assert.equal(toServerSettings(defaults({ compilerDiagnostics: 'errors' })).compilerDiagnostics, 'errors');
  assert.equal(toServerSettings(defaults({ targets: 'some' })).targets, 'all');
  assert.equal(toServerSettings(defaults({ check: 'lint' })).check, 'build');
  assert.equal('testTimeout' in toServerSettings(defaults({ testTimeout: 0 })), false, 'no limit');
});

test('didChangeConfiguration nests under "splitlink" (one of the two shapes the server accepts)', () => {
  const s = toServerSettings(defaults({ runOnLink: true }));
  assert.deepEqual(didChangeConfigurationParams(s), { settings: { splitlink: s } });
});

test('which changes restart the server and which are sent to it', () => {
  const only = (...keys) => (section) => keys.some((k) => k === section || k.startsWith(section + '.'));
  assert.equal(changeKind(only('splitlink.server.path')), 'restart');
  assert.equal(changeKind(only('splitlink.profile')), 'notify');
  assert.equal(changeKind(only('splitlink.runArgs')), 'notify');
  assert.equal(changeKind(only('splitlink.trace.server')), 'none', 'the client library applies trace changes itself');
  assert.equal(changeKind(only('editor.fontSize')), 'none');
});
