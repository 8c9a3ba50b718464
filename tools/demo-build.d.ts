// Types of tools/demo-build.js for the TypeScript tools that import it (tools/demo-server.ts).

export const DEMO_OUT: string;
export const STATIC_DATA_INDEX: { dataset: null; source: string };
export function checkInputs(metafile: { inputs: Record<string, unknown> }): number;
export function buildDemo(opts?: { outdir?: string; minify?: boolean }): Promise<{
  outdir: string;
  files: { name: string; bytes: number; gzip: number }[];
  inputs: number;
}>;
