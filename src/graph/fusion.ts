// Fusion: groups graph nodes into stages, each lowered to one launcher call.
// The pattern that matters in a ResNet is batchnorm → (add residual) → relu:
// one kernel applies the normalisation, adds the shortcut and clamps, and in
// the backward one kernel family applies the ReLU mask, the batchnorm
// backward and hands the masked gradient to the shortcut. A fused group's
// inner values are never materialised. A batchnorm straight after a conv
// takes its batch statistics from the conv: the conv's epilogue writes
// per-tile partial statistics of its output, and the batchnorm only merges
// them instead of reading the conv output twice more.

import { consumers, type Graph, type NodeOf } from './ir.ts';

export type Stage =
  | {
      kind: 'conv2d';
      node: NodeOf<'conv2d'>;
      out: number;
      /** The batchnorm node whose batch statistics this conv's epilogue gathers, or null. */
      statsFor: number | null;
    }
  | {
      kind: 'batchnorm';
      node: NodeOf<'batchnorm'>;
      /** The conv node that gathers this batchnorm's statistics, or null (it reads its input itself). */
      statsFrom: number | null;
      /** Value added before the ReLU (the shortcut), or null. */
      residual: number | null;
      relu: boolean;
      /** The value this stage produces (the last fused node's id). */
      out: number;
      /** Every node id the stage covers. */
      covers: number[];
    }
  | { kind: 'relu'; node: NodeOf<'relu'>; out: number }
  | { kind: 'add'; node: NodeOf<'add'>; relu: boolean; out: number; covers: number[] }
  | { kind: 'maxpool'; node: NodeOf<'maxpool'>; out: number }
  | { kind: 'global_avgpool'; node: NodeOf<'global_avgpool'>; out: number }
  | { kind: 'flatten'; node: NodeOf<'flatten'>; out: number }
  | { kind: 'linear'; node: NodeOf<'linear'>; out: number };

/** The stages in execution order; the loss and the inputs are handled by the compiler. */
export function fuse(graph: Graph): Stage[] {
  const readers = consumers(graph);
  const only = (id: number) => (readers[id].length === 1 ? graph.nodes[readers[id][0]] : null);
  // Each add fuses into the later of its batchnorm inputs (the other operand,
  // computed earlier, is the residual); torchvision puts the downsample branch
  // after the main one, so that is the shortcut's batchnorm there.
  const fusesAdd = new Map<number, NodeOf<'add'>>();
  for (const node of graph.nodes) {
    if (node.kind !== 'add') continue;
    const bns = node.inputs.filter((i) => graph.nodes[i].kind === 'batchnorm' && readers[i].length === 1);
    if (bns.length > 0 && node.inputs[0] !== node.inputs[1]) fusesAdd.set(Math.max(...bns), node);
  }
  // The batchnorm reading a conv's output (one, in a ResNet) takes its statistics from the conv's epilogue.
  const statsBn = new Map<number, number>();
  for (const node of graph.nodes) {
    const bn = node.kind === 'conv2d' ? readers[node.id].find((r) => graph.nodes[r].kind === 'batchnorm') : undefined;
    if (bn !== undefined) statsBn.set(node.id, bn);
  }
  const covered = new Set<number>();
  const stages: Stage[] = [];
  for (const node of graph.nodes) {
    if (covered.has(node.id)) continue;
    switch (node.kind) {
      case 'input':
      case 'softmax_cross_entropy':
        break;
      case 'batchnorm': {
        let out = node.id;
        let residual: number | null = null;
        let relu = false;
        const covers = [node.id];
        const add = fusesAdd.get(node.id);
        if (add) {
          residual = add.inputs[0] === node.id ? add.inputs[1] : add.inputs[0];
          out = add.id;
          covers.push(add.id);
        }
        const after = only(out);
        if (after?.kind === 'relu') {
          relu = true;
          out = after.id;
          covers.push(after.id);
        }
        for (const c of covers) covered.add(c);
        const statsFrom = statsBn.get(node.inputs[0]) === node.id ? node.inputs[0] : null;
        stages.push({ kind: 'batchnorm', node, statsFrom, residual, relu, out, covers });
        break;
      }
      case 'conv2d':
        stages.push({ kind: 'conv2d', node, out: node.id, statsFor: statsBn.get(node.id) ?? null });
        break;
      case 'add': {
        const after = only(node.id);
        const relu = after?.kind === 'relu';
        const covers = relu ? [node.id, after!.id] : [node.id];
        for (const c of covers) covered.add(c);
        stages.push({ kind: 'add', node, relu, out: covers[covers.length - 1], covers });
        break;
      }
      default:
        stages.push({ kind: node.kind, node, out: node.id } as Stage);
    }
  }
  return stages;
}
