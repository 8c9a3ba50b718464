// `nowt info`: the adapter, its limits and its features.

import type { Runtime } from '../gpu/runtime.ts';

export const INFO_HELP = `nowt info — the WebGPU adapter nowt gets, its limits and features

Usage: nowt info [--adapter NAME] [--json]

  --adapter NAME   pick an adapter by a substring of its name (or NOWT_ADAPTER);
                   a name that matches none lists the adapters there are
  --json           print one JSON object instead of text
  --debug LIST     debug switches (see README: force-tiled-matmul, force-portable-conv, print-shaders, validate)
`;

const SHOWN_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
] as const;

export function adapterLine(rt: Runtime): string {
  const a = rt.ctx.adapter;
  return `adapter: ${a.description} (vendor ${a.vendor}, ${a.architecture}, backend ${a.backend})`;
}

export function infoReport(rt: Runtime) {
  const limits: Record<string, number> = {};
  for (const k of SHOWN_LIMITS) limits[k] = rt.ctx.limits[k];
  return {
    adapter: rt.ctx.adapter,
    kind: rt.ctx.isCpu ? 'cpu (software)' : 'gpu',
    subgroup_size: rt.ctx.subgroupSize,
    features: [...rt.ctx.features].sort(),
    limits,
  };
}

export function printInfo(rt: Runtime, json: boolean): void {
  const r = infoReport(rt);
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  console.log(adapterLine(rt));
  console.log(`  device:        ${r.adapter.device}`);
  console.log(`  kind:          ${r.kind}`);
  console.log(`  subgroups:     ${r.subgroup_size ? `${r.subgroup_size.min}..${r.subgroup_size.max} lanes` : 'not available'}`);
  console.log(`  features:      ${r.features.join(', ')}`);
  console.log('  limits:');
  for (const [k, v] of Object.entries(r.limits)) console.log(`    ${k.padEnd(36)} ${v}`);
}
