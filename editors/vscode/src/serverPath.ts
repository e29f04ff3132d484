// Finding the `splitlink` executable from the `splitlink.server.path` setting. No `vscode`
// import (unit-tested).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface ResolveEnv {
  /** The PATH to search for a bare name. */
  PATH?: string;
  /** Windows: executable extensions. */
  PATHEXT?: string;
  platform?: NodeJS.Platform;
  home?: string;
  /** The first workspace folder, for relative paths and `${workspaceFolder}`. */
  workspaceFolder?: string;
  isExecutable?: (file: string) => boolean;
}

export type Resolved = { ok: true; path: string } | { ok: false; tried: string; reason: string };

export function isExecutableFile(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    if (process.platform === 'win32') return true;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `splitlink` (a bare name) is looked up on PATH; `~/x`, `${workspaceFolder}/x`, absolute paths
 * and relative paths with a separator (relative to the first workspace folder) are taken as files.
 */
export function resolveServerPath(setting: string | undefined, env: ResolveEnv = {}): Resolved {
  const platform = env.platform ?? process.platform;
  const isExec = env.isExecutable ?? isExecutableFile;
  const home = env.home ?? os.homedir();
  let p = (setting ?? '').trim() || 'splitlink';
  if (p === '~' || p.startsWith('~/')) p = path.join(home, p.slice(1));
  if (env.workspaceFolder) p = p.replace(/\$\{workspaceFolder\}/g, env.workspaceFolder);
  const hasSep = p.includes('/') || (platform === 'win32' && p.includes('\\'));
  const exts = platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').filter(Boolean)] : [''];
  if (hasSep) {
    const abs = path.isAbsolute(p) ? p : path.resolve(env.workspaceFolder ?? process.cwd(), p);
    for (const e of exts) if (isExec(abs + e)) return { ok: true, path: abs + e };
    return { ok: false, tried: abs, reason: `${abs} does not exist or is not executable` };
  }
  const dirs = (env.PATH ?? process.env.PATH ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  for (const d of dirs) {
    for (const e of exts) {
      const f = path.join(d, p + e);
      if (isExec(f)) return { ok: true, path: f };
    }
  }
  return { ok: false, tried: p, reason: `\`${p}\` is not on PATH` };
}
