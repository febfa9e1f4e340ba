#!/usr/bin/env node
// Bundles the browser UI (web/src) into web/dist with esbuild: hashed, immutable assets under
// dist/assets and an index.html that names them. Skips the work when dist is newer than every
// source, so start.sh and test.sh can call it every time. `--force` rebuilds regardless.
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'web', 'src');
const distDir = path.join(root, 'web', 'dist');
const stampFile = path.join(distDir, 'index.html');

async function newestMtime(dir) {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(full) : (await stat(full)).mtimeMs);
  }
  return newest;
}

async function upToDate() {
  const built = await stat(stampFile).then((s) => s.mtimeMs, () => 0);
  if (built === 0) return false;
  const inputs = [await newestMtime(srcDir), (await stat(fileURLToPath(import.meta.url))).mtimeMs];
  // A new hls.js version is a new bundle too.
  inputs.push(await stat(path.join(root, 'node_modules', 'hls.js', 'package.json')).then((s) => s.mtimeMs, () => 0));
  return Math.max(...inputs) < built;
}

async function build() {
  const { build: esbuild } = await import('esbuild');
  const started = Date.now();
  const staging = `${distDir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const result = await esbuild({
    entryPoints: { app: path.join(srcDir, 'main.ts'), style: path.join(srcDir, 'style.css') },
    outdir: path.join(staging, 'assets'),
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true, // hls.js becomes its own chunk, loaded only by pages that play video
    format: 'esm',
    target: 'es2020',
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
    logLimit: 10,
  });
  const outputs = Object.entries(result.metafile.outputs);
  const entry = (name) => {
    const found = outputs.find(([, o]) => o.entryPoint && path.basename(o.entryPoint).startsWith(name));
    if (!found) throw new Error(`esbuild produced no output for ${name}`);
    return `/assets/${path.basename(found[0])}`;
  };
  const shell = (await readFile(path.join(srcDir, 'index.html'), 'utf8'))
    .replace('%APP_JS%', entry('main.ts'))
    .replace('%APP_CSS%', entry('style.css'));
  await copyFile(path.join(srcDir, 'favicon.svg'), path.join(staging, 'assets', 'favicon.svg'));
  await writeFile(path.join(staging, 'index.html'), shell);
  // Swap in one step, so a server reading dist never sees half a build.
  await rm(distDir, { recursive: true, force: true });
  await rename(staging, distDir);
  const bytes = outputs.filter(([f]) => !f.endsWith('.map') && !f.endsWith('.LEGAL.txt')).reduce((n, [, o]) => n + o.bytes, 0);
  console.log(`spillway: built the web UI into web/dist (${Math.round(bytes / 1024)} KiB) in ${Date.now() - started} ms`);
}

const force = process.argv.includes('--force');
if (!force && (await upToDate())) process.exit(0);
await mkdir(path.dirname(distDir), { recursive: true });
try {
  await build();
} catch (err) {
  console.error(`spillway: building the web UI failed: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
}
