// Bundles the extension (dist/) and the tests (out/) with esbuild; `--production` minifies the extension.
import { readdirSync, rmSync } from 'node:fs';
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
rmSync('out', { recursive: true, force: true }); // no stale bundle of a deleted test runs
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
};
const unit = readdirSync('test/unit')
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/unit/${f}`);

await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
  }),
  esbuild.build({ ...common, entryPoints: unit, outdir: 'out/test/unit', external: ['vscode'] }),
  esbuild.build({ ...common, entryPoints: ['test/wire/wire.test.ts'], outdir: 'out/test/wire' }),
  esbuild.build({
    ...common,
    entryPoints: ['test/e2e/suite/index.ts'],
    outfile: 'out/test/e2e/suite.js',
    external: ['vscode'],
  }),
  esbuild.build({
    ...common,
    entryPoints: ['test/e2e/driver.ts'],
    outfile: 'out/test/e2e/driver.js',
    external: ['playwright-core'],
  }),
]);
