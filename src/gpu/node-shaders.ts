// Node side of ShaderSource: reads shaders/<name>.wgsl next to the package.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ShaderSource } from './shader-source.ts';

const SHADER_DIR = fileURLToPath(new URL('../../shaders/', import.meta.url));

export function diskShaderSource(dir = SHADER_DIR): ShaderSource {
  const cache = new Map<string, string>();
  return {
    text(name) {
      let t = cache.get(name);
      if (t === undefined) {
        t = readFileSync(`${dir}${name}.wgsl`, 'utf8');
        cache.set(name, t);
      }
      return t;
    },
    fileName: (name) => `shaders/${name}.wgsl`,
  };
}
