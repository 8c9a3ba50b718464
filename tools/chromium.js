// Debian's Chromium as every browser test launches it (never a downloaded
// browser): the binary, and flags for a headless run as root that reaches no
// network and touches no profile. WebGPU is added per test: Linux ships it
// behind --enable-unsafe-webgpu, and without a GPU it falls back to
// SwiftShader. --no-sandbox: Chromium refuses to run as root with its sandbox on.

export const CHROMIUM = process.env.NOWT_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--no-default-browser-check',
];

export const WEBGPU_ON = ['--enable-unsafe-webgpu'];
export const WEBGPU_OFF = ['--disable-webgpu'];
