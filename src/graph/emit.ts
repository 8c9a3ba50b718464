// Emit: each call of a schedule becomes its launcher's call, with the
// materialised tensors and the parameter store's views bound. The launchers
// are requested together (their kernels compile concurrently) and their
// dispatches are concatenated in schedule order, so the recorded program runs
// exactly the schedule. Every launcher's handle comes back beside its call.

import type { Dispatch, Runtime } from '../gpu/runtime.ts';
import { batchnormBackward, batchnormEvalForward, batchnormTrainForward } from '../kernels/batchnorm.ts';
import { conv2dFeedback, conv2dForward, conv2dWeightGrad } from '../kernels/conv2d.ts';
import { addInPlace, reluBackward, reluForward } from '../kernels/elementwise.ts';
import { linearFeedback, linearForward, linearWeightGrad } from '../kernels/linear.ts';
import { softmaxCrossEntropy, type LossOp } from '../kernels/softmax_cross_entropy.ts';
import type { Op } from '../kernels/op.ts';
import { globalAvgPoolBackward, globalAvgPoolForward, maxPoolBackward, maxPoolForward } from '../kernels/pool.ts';
import type { Materialised } from './materialise.ts';
import type { FeedbackOperand, ParamStore } from './params.ts';
import type { Call, Schedule } from './schedule.ts';

/** What the calls bind besides their values: parameters, gradients, running statistics, feedback operands. */
export interface PassBindings {
  store: ParamStore;
  /** The operand a layer's feedback kernel reads for `weight` (the rule's, or W for the diagnostic backprop pass). */
  feedback: (weight: string) => FeedbackOperand;
}

/** A call and the handle its launcher returned (its dispatches, outputs and, for some, controls). */
export interface Launch {
  readonly call: Call;
  readonly op: Op;
}

export interface Emitted {
  readonly launches: readonly Launch[];
  /** Every launch's dispatches, in schedule order. */
  readonly dispatches: readonly Dispatch[];
  /** The loss launcher's handle: its accumulate switch makes the metrics a window over several runs. */
  readonly loss: LossOp;
}

export async function emit(rt: Runtime, schedule: Schedule, values: Materialised, bind: PassBindings): Promise<Emitted> {
  let loss: Promise<LossOp> | null = null;
  const ops = await Promise.all(
    schedule.calls.map((c) => {
      if (c.op !== 'loss') return launch(rt, c, values, bind);
      const t = values.tensor;
      return (loss = softmaxCrossEntropy(rt, {
        logits: t(c.logits),
        targets: t(c.target),
        dlogits: c.dlogits ? t(c.dlogits) : null,
        metrics: t(c.metrics),
      }));
    }),
  );
  if (!loss) throw new Error(`emit(): internal: ${schedule.model}'s schedule has no loss call`);
  const launches = schedule.calls.map((call, i) => ({ call, op: ops[i] }));
  return { launches, dispatches: ops.flatMap((op) => op.dispatches), loss: await loss };
}

/** One call's launcher, bound. */
function launch(rt: Runtime, c: Exclude<Call, { op: 'loss' }>, values: Materialised, bind: PassBindings): Promise<Op> {
  const t = values.tensor;
  const { store } = bind;
  switch (c.op) {
    case 'conv2d.forward':
      return conv2dForward(rt, {
        x: t(c.x),
        w: store.param(c.attrs.weight),
        bias: c.attrs.bias ? store.param(c.attrs.bias) : null,
        stride: c.attrs.stride,
        pad: c.attrs.pad,
        y: t(c.y),
        ...(c.stats ? { stats: t(c.stats) } : {}),
      });
    case 'batchnorm.forward':
      return batchnormTrainForward(rt, {
        x: t(c.x),
        gamma: store.param(c.attrs.weight),
        beta: store.param(c.attrs.bias),
        runningMean: c.frozenStats ? null : store.stat(c.attrs.runningMean),
        runningVar: c.frozenStats ? null : store.stat(c.attrs.runningVar),
        eps: c.attrs.eps,
        momentum: c.attrs.momentum,
        relu: c.relu,
        residual: c.residual ? t(c.residual) : null,
        y: t(c.y),
        mean: t(c.mean),
        invStd: t(c.invStd),
        ...(c.stats ? { stats: { partials: t(c.stats.partials), chunk: c.stats.chunk } } : {}),
      });
    case 'batchnorm.eval':
      return batchnormEvalForward(rt, {
        x: t(c.x),
        gamma: store.param(c.attrs.weight),
        beta: store.param(c.attrs.bias),
        runningMean: store.stat(c.attrs.runningMean),
        runningVar: store.stat(c.attrs.runningVar),
        eps: c.attrs.eps,
        relu: c.relu,
        residual: c.residual ? t(c.residual) : null,
        y: t(c.y),
      });
    case 'relu.forward':
      return reluForward(rt, { x: t(c.x), y: t(c.y) });
    case 'maxpool.forward':
      return maxPoolForward(rt, { x: t(c.x), k: c.attrs.k, stride: c.attrs.stride, pad: c.attrs.pad, y: t(c.y), argmax: t(c.argmax) });
    case 'avgpool.forward':
      return globalAvgPoolForward(rt, { x: t(c.x), y: t(c.y) });
    case 'linear.forward':
      return linearForward(rt, {
        x: t(c.x),
        w: store.param(c.attrs.weight),
        b: c.attrs.bias ? store.param(c.attrs.bias) : null,
        y: t(c.y),
      });
    case 'linear.weight-grad':
      return linearWeightGrad(rt, {
        dy: t(c.dy),
        x: t(c.x),
        dw: store.grad(c.attrs.weight),
        db: c.attrs.bias ? store.grad(c.attrs.bias) : null,
      });
    case 'linear.feedback': {
      const fb = bind.feedback(c.attrs.weight);
      return linearFeedback(rt, { dy: t(c.dy), feedback: fb.tensor, signScale: fb.signScale, dx: t(c.dx) });
    }
    case 'conv2d.weight-grad':
      return conv2dWeightGrad(rt, {
        dy: t(c.dy),
        x: t(c.x),
        stride: c.attrs.stride,
        pad: c.attrs.pad,
        dw: store.grad(c.attrs.weight),
        db: c.attrs.bias ? store.grad(c.attrs.bias) : null,
      });
    case 'conv2d.feedback': {
      const fb = bind.feedback(c.attrs.weight);
      return conv2dFeedback(rt, {
        dy: t(c.dy),
        feedback: fb.tensor,
        signScale: fb.signScale,
        stride: c.attrs.stride,
        pad: c.attrs.pad,
        inputShape: c.inputShape,
        dx: t(c.dx),
      });
    }
    case 'batchnorm.backward':
      return batchnormBackward(rt, {
        dy: t(c.dy),
        x: t(c.x),
        gamma: store.param(c.attrs.weight),
        mean: t(c.mean),
        invStd: t(c.invStd),
        y: c.y ? t(c.y) : null,
        residualGrad: c.dresidual !== null,
        dx: t(c.dx),
        dgamma: store.grad(c.attrs.weight),
        dbeta: store.grad(c.attrs.bias),
        ...(c.dresidual ? { dresidual: t(c.dresidual) } : {}),
      });
    case 'relu.backward':
      return reluBackward(rt, { dy: t(c.dy), y: t(c.y), dx: t(c.dx) });
    case 'maxpool.backward':
      return maxPoolBackward(rt, {
        dy: t(c.dy),
        argmax: t(c.argmax),
        k: c.attrs.k,
        stride: c.attrs.stride,
        pad: c.attrs.pad,
        dx: t(c.dx),
      });
    case 'avgpool.backward':
      return globalAvgPoolBackward(rt, { dy: t(c.dy), dx: t(c.dx) });
    case 'add.accumulate':
      return addInPlace(rt, { acc: t(c.acc), a: t(c.a) });
  }
}
