#!/usr/bin/env node
// nowt installs as a package (`npm run test:pack`): `npm pack`, installed
// into an empty folder without devDependencies, then `npx nowt train` on the
// synthetic set and `npx nowt --help`. Proves the runtime needs nothing from
// devDependencies (the benchmark's tfjs peer is loaded only by `bench`).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nowt-pack-'));

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (r.status !== 0) {
    console.error(`✗ ${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    process.exit(1);
  }
  return r.stdout;
}

try {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], ROOT))[0];
  const tarball = path.join(work, packed.filename);
  console.log(`✓ npm pack: ${packed.filename}, ${(packed.size / 1024).toFixed(0)} KiB, ${packed.entryCount} files`);
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name": "nowt-pack-test", "private": true}\n');
  run('npm', ['install', '--omit=dev', '--no-package-lock', tarball], app);
  const dev = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'typescript', 'playwright-core', 'uvu'].filter((d) =>
    fs.existsSync(path.join(app, 'node_modules', d)),
  );
  if (dev.length > 0) throw new Error(`devDependencies were installed: ${dev.join(', ')}`);
  console.log('✓ installed into an empty folder without devDependencies');
  run('npx', ['nowt', '--help'], app);
  const out = path.join(app, 'run');
  const args = ['nowt', 'train', '--model', 'mlp', '--hidden', '32', '--dataset', 'synthetic', '--synthetic-train', '256'];
  run('npx', [...args, '--synthetic-test', '64', '--epochs', '1', '-b', '32', '--out', out], app);
  for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'best.safetensors'])
    if (!fs.existsSync(path.join(out, f))) throw new Error(`npx nowt train wrote no ${f}`);
  console.log('✓ npx nowt train ran from the installed package and wrote its run folder');
} catch (e) {
  console.error(`✗ ${e.message}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
