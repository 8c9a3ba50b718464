#!/usr/bin/env node
// nowt setup (`npm run setup`): makes a machine ready to run nowt. Idempotent;
// on a machine that already has everything it only checks and prints ✓ lines.
//
//   1. npm dependencies   (runs `npm install` when node_modules is missing/stale)
//   2. WebGPU adapter     (Dawn via the `webgpu` package; on Linux installs Mesa's
//                          Vulkan drivers with apt when there is no adapter)
//   3. Fashion-MNIST      (Debian package `dataset-fashion-mnist`, or $NOWT_DATA_DIR)
//   4. Chromium           (for `npm run test:browser`)
//
// System packages are installed only when running as root with apt-get;
// otherwise the exact commands to run are printed and setup carries on.
// Exit status is non-zero only when something that setup itself tried to
// install failed and left nowt unusable (no adapter / no npm dependencies).
//
// Environment:
//   NOWT_SETUP_DRY_RUN=1   print the npm/apt-get commands (and file writes) that
//                          would run instead of running them; always exits 0.
//   NOWT_SETUP_SIMULATE=a,b,...  pretend things are missing, to exercise the
//                          install branches (use with NOWT_SETUP_DRY_RUN=1):
//                          no-adapter, no-dataset, no-chromium, no-deps, no-root,
//                          no-apt, no-backports, os=<ID>:<VERSION_ID> (e.g. os=ubuntu:24.04).
//   NOWT_DATA_DIR          directory holding the four Fashion-MNIST files; if it
//                          has them, the dataset package is not needed.
//   XDG_RUNTIME_DIR        set to /tmp/nowt-xdg-<uid> for the adapter check if unset.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DRY = /^(1|true|yes)$/i.test(process.env.NOWT_SETUP_DRY_RUN ?? '');
const SIM = new Set(
  (process.env.NOWT_SETUP_SIMULATE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const simOs = [...SIM].find((s) => s.startsWith('os='))?.slice(3);

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const BACKPORTS_LINE = 'deb http://deb.debian.org/debian bookworm-backports main';
const BACKPORTS_FILE = '/etc/apt/sources.list.d/nowt-backports.list';

// ---- small helpers ----------------------------------------------------------

const ok = (msg) => console.log(`✓ ${msg}`);
const act = (msg) => console.log(`→ ${msg}`);
const warn = (msg) => console.log(`! ${msg}`);
const bad = (msg) => console.log(`✗ ${msg}`);

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, cmd))) return true;
  }
  return false;
}

const isLinux = process.platform === 'linux';
const isRoot = !SIM.has('no-root') && typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = !SIM.has('no-apt') && isLinux && onPath('apt-get');
const canApt = isRoot && hasApt; // we may install system packages ourselves
const sudo = isRoot ? '' : 'sudo ';

/** Parse /etc/os-release into { ID, VERSION_ID, VERSION_CODENAME, ... }. */
function osRelease() {
  const out = {};
  try {
    for (const line of fs.readFileSync('/etc/os-release', 'utf8').split('\n')) {
      const m = line.match(/^([A-Z_]+)=(.*)$/);
      if (m) out[m[1]] = m[2].replace(/^["']|["']$/g, '');
    }
  } catch {
    /* not Linux, or a minimal image */
  }
  if (simOs) {
    [out.ID, out.VERSION_ID] = simOs.split(':');
    out.VERSION_CODENAME = '';
  }
  return out;
}
const OS = osRelease();
const isDebian12 = OS.ID === 'debian' && (OS.VERSION_ID === '12' || OS.VERSION_CODENAME === 'bookworm');

/** Run a command with inherited stdio (or only print it in dry-run mode). */
function run(cmd, args, { env } = {}) {
  const shown = [env?.DEBIAN_FRONTEND ? 'DEBIAN_FRONTEND=noninteractive' : '', cmd, ...args].filter(Boolean).join(' ');
  if (DRY) {
    console.log(`  [dry-run] would run: ${shown}`);
    return true;
  }
  act(`running: ${shown}`);
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...env },
    shell: process.platform === 'win32', // npm is npm.cmd there
  });
  if (r.error) warn(`${cmd} failed to start: ${r.error.message}`);
  return r.status === 0;
}

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' };
let aptUpdated = false;
/** apt-get update, at most once per setup run and only when installing something. */
function aptUpdate() {
  if (aptUpdated) return true;
  aptUpdated = true;
  const r = run('apt-get', ['update'], { env: APT_ENV });
  if (!r) warn('apt-get update failed; trying to install from what apt already knows');
  return r;
}
function aptInstall(pkgs, extra = []) {
  aptUpdate();
  return run('apt-get', ['install', '-y', ...extra, ...pkgs], { env: APT_ENV });
}

// ---- 1. npm dependencies ----------------------------------------------------

function depsState() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
  const missing = SIM.has('no-deps') ? names : names.filter((n) => !fs.existsSync(path.join(ROOT, 'node_modules', n, 'package.json')));
  // Stale: package-lock.json changed after the last install (npm writes
  // node_modules/.package-lock.json at the end of every install).
  const lock = path.join(ROOT, 'package-lock.json');
  const installed = path.join(ROOT, 'node_modules', '.package-lock.json');
  let stale = false;
  if (fs.existsSync(lock)) {
    stale = !fs.existsSync(installed) || fs.statSync(lock).mtimeMs > fs.statSync(installed).mtimeMs;
  }
  return { names, missing, stale };
}

function stepDeps() {
  const [major] = process.versions.node.split('.').map(Number);
  if (major < 20) warn(`node ${process.version}: nowt needs Node >= 20`);
  const { names, missing, stale } = depsState();
  if (!missing.length && !stale) {
    ok(`npm dependencies: ${names.length} packages present (node ${process.version})`);
    return true;
  }
  act(
    missing.length
      ? `npm dependencies missing (${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', …' : ''}); running npm install`
      : 'package-lock.json is newer than node_modules; running npm install',
  );
  // npm 11 may warn about skipped "install-scripts"; harmless: dawn.node ships
  // prebuilt inside the `webgpu` package.
  if (!run('npm', ['install'])) {
    bad('npm install failed (see above)');
    return false;
  }
  if (!DRY) ok('npm dependencies installed');
  return true;
}

// ---- 2. WebGPU adapter ------------------------------------------------------

// Runs in a child so that a driver hang or crash cannot take setup down.
const ADAPTER_PROBE = `
let mod;
try { mod = await import('webgpu'); }
catch (e) { console.error('cannot import webgpu: ' + e.message); process.exit(2); }
try {
  const adapter = await mod.create([]).requestAdapter();
  if (!adapter) { console.error('requestAdapter() returned null'); process.exit(1); }
  const i = adapter.info ?? {};
  console.log(i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(' ') || 'unnamed adapter');
  process.exit(0);
} catch (e) { console.error('requestAdapter() threw: ' + e.message); process.exit(1); }
`;

function ensureXdgRuntimeDir() {
  if (process.env.XDG_RUNTIME_DIR || !isLinux) return;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  let dir = path.join(os.tmpdir(), `nowt-xdg-${uid}`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    // Must be ours and private; otherwise fall back to a fresh temp dir.
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error('not ours');
    fs.chmodSync(dir, 0o700);
  } catch {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nowt-xdg-'));
  }
  process.env.XDG_RUNTIME_DIR = dir;
  warn(`XDG_RUNTIME_DIR was unset; using ${dir} for the check (hint: export XDG_RUNTIME_DIR=${dir})`);
}

/** @returns {{ok: boolean, description?: string, reason?: string, importFailed?: boolean}} */
function probeAdapter() {
  if (SIM.has('no-adapter')) return { ok: false, reason: 'simulated (NOWT_SETUP_SIMULATE=no-adapter)' };
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', ADAPTER_PROBE], {
    cwd: ROOT, // so `import 'webgpu'` resolves from the project's node_modules
    env: process.env,
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  if (r.error?.code === 'ETIMEDOUT' || r.signal) {
    return {
      ok: false,
      reason: r.signal ? `probe killed by ${r.signal} (timeout 30 s or crash)` : 'probe timed out after 30 s',
    };
  }
  if (r.status === 0) return { ok: true, description: r.stdout.trim().split('\n').pop() };
  // Last meaningful stderr line (Dawn prints harmless "Warning:" lines too).
  const lines = (r.stderr ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const reason = lines.filter((l) => !l.startsWith('Warning:')).pop() ?? lines.pop() ?? `exit ${r.status}`;
  return { ok: false, reason, importFailed: r.status === 2 };
}

/** Commands that install Mesa's Vulkan drivers on this OS (as a list of argv). */
function mesaPlan() {
  if (isDebian12) {
    return {
      backports: true,
      pkgs: ['mesa-vulkan-drivers', 'libvulkan1'],
      extra: ['-t', 'bookworm-backports'],
      why: "Debian 12's stock Mesa 22 is refused by Dawn; Mesa 25 from bookworm-backports works",
    };
  }
  return { backports: false, pkgs: ['mesa-vulkan-drivers', 'libvulkan1'], extra: [], why: '' };
}

function backportsConfigured() {
  if (SIM.has('no-backports')) return false;
  const files = ['/etc/apt/sources.list'];
  try {
    for (const f of fs.readdirSync('/etc/apt/sources.list.d')) files.push(path.join('/etc/apt/sources.list.d', f));
  } catch {
    /* no dir */
  }
  return files.some((f) => {
    try {
      return /\.(list|sources)$/.test(f) && fs.readFileSync(f, 'utf8').includes('bookworm-backports');
    } catch {
      return false;
    }
  });
}

function printManualMesa(plan) {
  const lines = [];
  if (plan.backports && !backportsConfigured()) {
    lines.push(`echo '${BACKPORTS_LINE}' | ${sudo}tee ${BACKPORTS_FILE}`);
  }
  if (hasApt) {
    lines.push(`${sudo}apt-get update`);
    lines.push(`${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y ${[...plan.extra, ...plan.pkgs].join(' ')}`);
  } else {
    lines.push("install Mesa's Vulkan drivers and the Vulkan loader with your package manager,");
    lines.push('e.g. `dnf install mesa-vulkan-drivers vulkan-loader` or `pacman -S vulkan-swrast vulkan-icd-loader`');
  }
  warn(
    `no WebGPU adapter; to get one (software Vulkan via Mesa lavapipe)${hasApt && plan.why ? ` — ${plan.why}` : ''}${hasApt ? ', run' : ''}:`,
  );
  for (const l of lines) console.log(`    ${l}`);
}

/** @returns {{ok: boolean, attempted: boolean}} */
function stepAdapter(depsOk) {
  ensureXdgRuntimeDir();
  let probe = probeAdapter();
  if (probe.ok) {
    ok(`webgpu adapter: ${probe.description}`);
    return { ok: true, attempted: false };
  }
  bad(`no webgpu adapter: ${probe.reason}`);
  if (probe.importFailed) {
    // Not a driver problem: the `webgpu` package itself is missing or broken.
    warn(depsOk ? 'the webgpu package cannot be loaded; try `rm -rf node_modules && npm install`' : 'fix npm install first');
    return { ok: false, attempted: !depsOk };
  }
  if (!isLinux) {
    warn(`on ${process.platform} Dawn uses the system's Metal/D3D12/Vulkan driver; update your GPU driver`);
    return { ok: false, attempted: false };
  }
  const plan = mesaPlan();
  if (!canApt) {
    if (!isRoot && hasApt) warn('not running as root, so not installing system packages');
    printManualMesa(plan);
    return { ok: false, attempted: false };
  }
  if (plan.backports) {
    if (backportsConfigured()) {
      ok('bookworm-backports already in apt sources');
    } else if (DRY) {
      console.log(`  [dry-run] would write ${BACKPORTS_FILE}: ${BACKPORTS_LINE}`);
    } else {
      fs.writeFileSync(BACKPORTS_FILE, BACKPORTS_LINE + '\n');
      act(`added ${BACKPORTS_FILE} (${plan.why})`);
    }
  }
  act(`installing ${plan.pkgs.join(' ')}${plan.backports ? ' from bookworm-backports' : ''}`);
  aptInstall(plan.pkgs, plan.extra);
  if (DRY) return { ok: false, attempted: true };
  probe = probeAdapter();
  if (probe.ok) {
    ok(`webgpu adapter: ${probe.description}`);
    return { ok: true, attempted: true };
  }
  bad(`still no webgpu adapter after installing Mesa: ${probe.reason}`);
  return { ok: false, attempted: true };
}

// ---- 3. Fashion-MNIST -------------------------------------------------------

/** True if `dir` has all four files (gzipped or not). */
function hasFashion(dir) {
  return FASHION_FILES.every((f) => fs.existsSync(path.join(dir, f + '.gz')) || fs.existsSync(path.join(dir, f)));
}

function stepDataset() {
  const envDir = process.env.NOWT_DATA_DIR;
  if (envDir && hasFashion(envDir)) {
    ok(`fashion-mnist: ${envDir} (NOWT_DATA_DIR)`);
    return;
  }
  if (envDir) warn(`NOWT_DATA_DIR=${envDir} lacks the Fashion-MNIST files; looking in ${FASHION_DIR}`);
  if (!SIM.has('no-dataset') && hasFashion(FASHION_DIR)) {
    ok(`fashion-mnist: ${FASHION_DIR}`);
    return;
  }
  if (!canApt) {
    warn(
      hasApt
        ? `fashion-mnist missing; run: ${sudo}apt-get install -y dataset-fashion-mnist`
        : `fashion-mnist missing; put ${FASHION_FILES.map((f) => f + '.gz').join(', ')} in a dir and set NOWT_DATA_DIR`,
    );
    return;
  }
  act('fashion-mnist missing; installing dataset-fashion-mnist');
  if (aptInstall(['dataset-fashion-mnist']) && !DRY && hasFashion(FASHION_DIR)) ok(`fashion-mnist: ${FASHION_DIR}`);
  else if (!DRY) warn('could not install dataset-fashion-mnist; training needs it (or NOWT_DATA_DIR)');
}

// ---- 4. Chromium ------------------------------------------------------------

function stepChromium() {
  const bin = '/usr/bin/chromium';
  if (!SIM.has('no-chromium') && fs.existsSync(bin)) {
    ok(`chromium: ${bin}`);
    return;
  }
  if (!isLinux) {
    warn('chromium: not checked on this OS (browser tests look for /usr/bin/chromium)');
    return;
  }
  if (!canApt) {
    warn(
      `chromium missing (needed by npm run test:browser); ` +
        (hasApt ? `run: ${sudo}apt-get install -y chromium` : 'install it with your package manager'),
    );
    return;
  }
  act('chromium missing; installing it for npm run test:browser');
  if (aptInstall(['chromium']) && !DRY && fs.existsSync(bin)) ok(`chromium: ${bin}`);
  else if (!DRY) warn('could not install chromium; npm run test:browser will not run');
}

// ---- main -------------------------------------------------------------------

if (DRY) console.log('nowt setup: dry run (NOWT_SETUP_DRY_RUN=1): nothing is installed or written');
if (SIM.size) console.log(`nowt setup: simulating ${[...SIM].join(', ')}`);

const depsOk = stepDeps();
const adapter = stepAdapter(depsOk);
stepDataset();
stepChromium();

if (DRY) {
  console.log(`nowt setup: dry run done${adapter.ok ? '' : ' (a real run would re-check the adapter after installing)'}`);
  process.exit(0);
}
if (!depsOk) {
  console.log(
    '\nnowt setup failed: `npm install` did not succeed, so the `webgpu` package (Dawn) and the\n' +
      'other dependencies are not available. Check the npm output above (network, registry, disk),\n' +
      'then run `npm run setup` again.',
  );
  process.exit(1);
}
if (!adapter.ok && adapter.attempted) {
  console.log(
    "\nnowt setup failed: there is still no WebGPU adapter after installing Mesa's Vulkan drivers.\n" +
      'Dawn (the `webgpu` package) needs a Vulkan driver it accepts: on a machine without a GPU that is\n' +
      "Mesa's lavapipe (llvmpipe), newer than Debian 12's Mesa 22 (Mesa 25 from bookworm-backports works).\n" +
      'Check the apt output above, then `vulkaninfo --summary` (package vulkan-tools) and try\n' +
      'VK_LOADER_DEBUG=error,warn to see why the Vulkan loader rejects the driver.',
  );
  process.exit(1);
}
if (!adapter.ok) {
  console.log('\nnowt setup: finished WITHOUT a WebGPU adapter — nowt cannot run kernels until one is available (see above).');
} else {
  console.log('nowt setup: ready');
}
