// Bundles the extension with esbuild: src/extension.ts → dist/extension.js (CommonJS, `vscode`
// external). With --lib, also compiles the modules that do not import `vscode` to out/lib/*.mjs
// for the `node --test` unit tests.
import * as esbuild from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = process.argv.includes('--lib');

await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'dist/extension.js',
  external: ['vscode'],
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minify: process.argv.includes('--minify'),
  logLevel: 'warning',
});

if (lib) {
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/status.ts', 'src/settings.ts', 'src/serverPath.ts', 'src/protocol.ts'],
    outdir: 'out/lib',
    outExtension: { '.js': '.mjs' },
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
}
