// Naive float64 reference for 2-D convolution (cross-correlation, as PyTorch).
// x: NCHW, w and B: OIHW (O = out channels, I = c), y: N·O·OH·OW.
// One stride and one zero-padding apply to both spatial axes.
//
//   y[n,o,oy,ox] = bias[o] + Σ_{c,ky,kx} x[n,c, oy·s−p+ky, ox·s−p+kx] · w[o,c,ky,kx]
//
// The feedback and weight-gradient loops walk the same index triple as the
// forward, so each is the exact adjoint of it.

import { checkLength, checkNonNegativeInt, checkPositiveInt } from './check.ts';

export interface Conv2dShape {
  n: number; // batch
  c: number; // input channels
  h: number; // input height
  w: number; // input width
  o: number; // output channels
  kh: number; // kernel height
  kw: number; // kernel width
  stride: number;
  pad: number;
}

export function conv2dOutSize(shape: Conv2dShape): { oh: number; ow: number } {
  const { h, w, kh, kw, stride, pad } = shape;
  return {
    oh: Math.floor((h + 2 * pad - kh) / stride) + 1,
    ow: Math.floor((w + 2 * pad - kw) / stride) + 1,
  };
}

function validate(op: string, shape: Conv2dShape): { oh: number; ow: number } {
  for (const k of ['n', 'c', 'h', 'w', 'o', 'kh', 'kw', 'stride'] as const) {
    checkPositiveInt(op, `shape.${k}`, shape[k]);
  }
  checkNonNegativeInt(op, 'shape.pad', shape.pad);
  const { oh, ow } = conv2dOutSize(shape);
  if (oh < 1 || ow < 1) {
    throw new Error(
      `${op}(): kernel ${shape.kh}x${shape.kw} does not fit input ${shape.h}x${shape.w} with pad=${shape.pad} (output ${oh}x${ow})`,
    );
  }
  return { oh, ow };
}

export function conv2dForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  shape: Conv2dShape,
): Float64Array {
  const op = 'conv2dForward';
  const { oh, ow } = validate(op, shape);
  const { n: N, c: C, h: H, w: W, o: O, kh: KH, kw: KW, stride: S, pad: P } = shape;
  checkLength(op, 'x', x, N * C * H * W, 'n*c*h*w');
  checkLength(op, 'w', w, O * C * KH * KW, 'o*c*kh*kw');
  if (bias !== null) checkLength(op, 'bias', bias, O, 'o');
  const y = new Float64Array(N * O * oh * ow);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = bias === null ? 0 : bias[o];
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * S - P + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * S - P + kx;
                if (ix < 0 || ix >= W) continue;
                acc += x[((n * C + c) * H + iy) * W + ix] * w[((o * C + c) * KH + ky) * KW + kx];
              }
            }
          }
          y[((n * O + o) * oh + oy) * ow + ox] = acc;
        }
      }
    }
  }
  return y;
}

/** dx (NCHW): transposed conv of dy with B. Equals ∂L/∂x of the forward when B = W. */
export function conv2dFeedback(dy: ArrayLike<number>, B: ArrayLike<number>, shape: Conv2dShape): Float64Array {
  const op = 'conv2dFeedback';
  const { oh, ow } = validate(op, shape);
  const { n: N, c: C, h: H, w: W, o: O, kh: KH, kw: KW, stride: S, pad: P } = shape;
  checkLength(op, 'dy', dy, N * O * oh * ow, 'n*o*oh*ow');
  checkLength(op, 'B', B, O * C * KH * KW, 'o*c*kh*kw');
  const dx = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const g = dy[((n * O + o) * oh + oy) * ow + ox];
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * S - P + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * S - P + kx;
                if (ix < 0 || ix >= W) continue;
                dx[((n * C + c) * H + iy) * W + ix] += g * B[((o * C + c) * KH + ky) * KW + kx];
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

/** dW (OIHW) = Σ over batch and output positions of dy · x (summed, not averaged). */
export function conv2dWeightGrad(dy: ArrayLike<number>, x: ArrayLike<number>, shape: Conv2dShape): Float64Array {
  const op = 'conv2dWeightGrad';
  const { oh, ow } = validate(op, shape);
  const { n: N, c: C, h: H, w: W, o: O, kh: KH, kw: KW, stride: S, pad: P } = shape;
  checkLength(op, 'dy', dy, N * O * oh * ow, 'n*o*oh*ow');
  checkLength(op, 'x', x, N * C * H * W, 'n*c*h*w');
  const dw = new Float64Array(O * C * KH * KW);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let ky = 0; ky < KH; ky++) {
        for (let kx = 0; kx < KW; kx++) {
          let acc = 0;
          for (let n = 0; n < N; n++) {
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * S - P + ky;
              if (iy < 0 || iy >= H) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox * S - P + kx;
                if (ix < 0 || ix >= W) continue;
                acc += dy[((n * O + o) * oh + oy) * ow + ox] * x[((n * C + c) * H + iy) * W + ix];
              }
            }
          }
          dw[((o * C + c) * KH + ky) * KW + kx] = acc;
        }
      }
    }
  }
  return dw;
}

/** dbias (O) = Σ of dy over batch and output positions. */
export function conv2dBiasGrad(dy: ArrayLike<number>, shape: Conv2dShape): Float64Array {
  const op = 'conv2dBiasGrad';
  const { oh, ow } = validate(op, shape);
  const { n: N, o: O } = shape;
  checkLength(op, 'dy', dy, N * O * oh * ow, 'n*o*oh*ow');
  const db = new Float64Array(O);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < oh * ow; i++) db[o] += dy[(n * O + o) * oh * ow + i];
    }
  }
  return db;
}
