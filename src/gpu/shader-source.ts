// Where WGSL text comes from. Node reads shaders/*.wgsl from disk
// (src/gpu/node-shaders.ts); the browser bundle inlines the same files as text
// (tools/bundle.js). One source either way.

export interface ShaderSource {
  /** The WGSL text of shaders/<name>.wgsl. */
  text(name: string): string;
  /** How to name the file in error messages. */
  fileName(name: string): string;
}

/** A source over an in-memory map, e.g. the browser bundle's. */
export function mapShaderSource(files: Record<string, string>): ShaderSource {
  return {
    text(name) {
      const t = files[name];
      if (t === undefined) {
        throw new Error(`shader "${name}" not found; known: ${Object.keys(files).sort().join(', ')}`);
      }
      return t;
    },
    fileName: (name) => `shaders/${name}.wgsl`,
  };
}
