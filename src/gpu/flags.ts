// Debug switches, all in one place. Set from the CLI (`--debug a,b`) or the
// NOWT_DEBUG environment variable in Node, and from `?debug=a,b` in a page.
//
//   force-tiled-matmul   use shaders/matmul.wgsl for every product (skip matmul_dot4)
//   force-portable-conv  use the portable conv2d kernels everywhere (skip shaders/conv2d_lanes.wgsl)
//   print-shaders        log each WGSL module as it is compiled
//   validate             check every submit for GPU validation errors (slower)

export interface DebugFlags {
  forceTiledMatmul: boolean;
  forcePortableConv: boolean;
  printShaders: boolean;
  validate: boolean;
}

export const debugFlags: DebugFlags = { forceTiledMatmul: false, forcePortableConv: false, printShaders: false, validate: false };

const NAMES: Record<string, keyof DebugFlags> = {
  'force-tiled-matmul': 'forceTiledMatmul',
  'force-portable-conv': 'forcePortableConv',
  'print-shaders': 'printShaders',
  validate: 'validate',
};

/** Parses a comma-separated list of switch names; throws on an unknown one. */
export function setDebugFlags(list: string): void {
  for (const raw of list.split(',')) {
    const name = raw.trim();
    if (!name) continue;
    const key = NAMES[name];
    if (!key) throw new Error(`--debug: unknown switch "${name}" (known: ${Object.keys(NAMES).join(', ')})`);
    debugFlags[key] = true;
  }
}
