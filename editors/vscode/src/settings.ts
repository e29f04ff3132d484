// VS Code settings (`splitlink.*`) → the server's settings object (docs/lsp-extensions.md,
// "Settings"), sent as `initializationOptions` and in `workspace/didChangeConfiguration`.
// No `vscode` import (unit-tested).

export type CompilerDiagnostics = 'all' | 'errors' | 'off';
export type Targets = 'all' | 'default';
export type Check = 'build' | 'clippy';

/** Exactly the keys `splitlink lsp` reads. */
export interface ServerSettings {
  bin?: string;
  profile: string;
  features: string[];
  allFeatures: boolean;
  noDefaultFeatures: boolean;
  compilerDiagnostics: CompilerDiagnostics;
  runOnLink: boolean;
  runArgs: string[];
  targets: Targets;
  testOnSave: boolean;
  testArgs: string[];
  testTimeout?: number;
  fast: boolean;
  check: Check;
  clippyArgs: string[];
}

/** Settings only the extension reads whose change needs a new server process. */
export const RESTART_KEYS = ['server.path'] as const;

/** The `splitlink.*` keys that are forwarded to the server. */
export const SERVER_KEYS = [
  'bin',
  'profile',
  'features',
  'allFeatures',
  'noDefaultFeatures',
  'compilerDiagnostics',
  'runOnLink',
  'runArgs',
  'targets',
  'testOnSave',
  'testArgs',
  'testTimeout',
  'fast',
  'check',
  'clippyArgs',
] as const;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v.trim() : undefined);
const bool = (v: unknown): boolean => v === true;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Reads `splitlink.<key>` through `get` (e.g. `workspace.getConfiguration('splitlink').get`) and
 * builds what the server expects. Values the server would reject (and then fall back to *all*
 * defaults for) are normalised here: an unknown `compilerDiagnostics` becomes `all`, an empty
 * `bin` is left out, features given as `"a,b c"` are split like cargo's `--features`.
 */
export function toServerSettings(get: (key: string) => unknown): ServerSettings {
  const cd = str(get('compilerDiagnostics'));
  const out: ServerSettings = {
    profile: str(get('profile')) || 'dev',
    features: strings(get('features'))
      .flatMap((f) => f.split(/[\s,]+/))
      .filter((f) => f.length > 0),
    allFeatures: bool(get('allFeatures')),
    noDefaultFeatures: bool(get('noDefaultFeatures')),
    compilerDiagnostics: cd === 'errors' || cd === 'off' ? cd : 'all',
    runOnLink: bool(get('runOnLink')),
    runArgs: strings(get('runArgs')),
    targets: str(get('targets')) === 'default' ? 'default' : 'all',
    testOnSave: bool(get('testOnSave')),
    testArgs: strings(get('testArgs')),
    fast: bool(get('fast')),
    check: str(get('check')) === 'clippy' ? 'clippy' : 'build',
    clippyArgs: strings(get('clippyArgs')),
  };
  const bin = str(get('bin'));
  if (bin) out.bin = bin;
  const timeout = get('testTimeout');
  if (typeof timeout === 'number' && Number.isFinite(timeout) && timeout >= 1) out.testTimeout = Math.floor(timeout);
  return out;
}

/** The `workspace/didChangeConfiguration` params for these settings. */
export function didChangeConfigurationParams(s: ServerSettings): { settings: { splitlink: ServerSettings } } {
  return { settings: { splitlink: s } };
}

/** Which kind of reaction a configuration change under `splitlink` needs. */
export function changeKind(affects: (section: string) => boolean): 'restart' | 'notify' | 'none' {
  if (RESTART_KEYS.some((k) => affects(`splitlink.${k}`))) return 'restart';
  if (SERVER_KEYS.some((k) => affects(`splitlink.${k}`))) return 'notify';
  return 'none';
}
