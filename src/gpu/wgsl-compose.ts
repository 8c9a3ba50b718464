// WGSL has no includes and no generics, so shaders are composed before they
// are compiled:
//
//   //#include lib/udiv        replaced by shaders/lib/udiv.wgsl (once per
//                              module, recursively; a cycle is an error)
//   //#elem                    declares `alias elem = f32;` (or, for an f16
//                              variant, `enable f16;` first and `elem = f16`):
//                              storage arrays of `elem`, arithmetic in f32
//
// Both directives are comments, so a raw file still reads as WGSL. The
// composed text keeps a map from each of its lines to (file, line), so a
// compile error names the file the line came from. The element type is part
// of the module's and the pipeline's cache key (KernelCache).

import { CompileError } from './errors.ts';
import type { ShaderSource } from './shader-source.ts';

export type ElemType = 'f32' | 'f16';

export interface ShaderVariant {
  /** Storage element type for shaders that declare //#elem; default f32. */
  elem?: ElemType;
}

export interface ComposedShader {
  code: string;
  /** Output line i (0-based) came from lines[i]. */
  lines: { file: string; line: number }[];
  /** Every file that went in, the shader first. */
  files: string[];
}

const INCLUDE = /^\s*\/\/#include\s+([\w/.-]+)\s*$/;
const ELEM = /^\s*\/\/#elem\s*$/;

export function composeShader(name: string, source: ShaderSource, variant: ShaderVariant = {}): ComposedShader {
  const elem = variant.elem ?? 'f32';
  const out: string[] = [];
  const lines: ComposedShader['lines'] = [];
  const seen = new Set<string>();
  const files: string[] = [];
  let wantsElem = false;
  const emit = (text: string, file: string, line: number) => {
    out.push(text);
    lines.push({ file, line });
  };
  const visit = (mod: string, stack: string[]) => {
    if (stack.includes(mod)) throw new CompileError(`${source.fileName(stack[0])}: include cycle ${[...stack, mod].join(' → ')}`);
    if (seen.has(mod)) return;
    seen.add(mod);
    const file = source.fileName(mod);
    files.push(file);
    let text: string;
    try {
      text = source.text(mod);
    } catch (e) {
      const from = stack.length ? ` (included from ${source.fileName(stack[stack.length - 1])})` : '';
      throw new CompileError(`${file}: cannot read it${from}: ${(e as Error).message}`);
    }
    text.split('\n').forEach((l, i) => {
      const inc = INCLUDE.exec(l);
      if (inc) visit(inc[1], [...stack, mod]);
      else if (ELEM.test(l)) wantsElem = true;
      else emit(l, file, i + 1);
    });
  };
  visit(name, []);
  if (wantsElem) {
    const head = elem === 'f16' ? ['enable f16;', 'alias elem = f16;'] : ['alias elem = f32;'];
    out.unshift(...head);
    lines.unshift(...head.map(() => ({ file: '(composed)', line: 0 })));
  } else if (elem !== 'f32') {
    throw new CompileError(`${source.fileName(name)}: asked for elem=${elem}, but the shader does not declare //#elem`);
  }
  return { code: out.join('\n'), lines, files };
}

/** Where composed line `lineNum` (1-based) came from, as "file:line". */
export function sourceLocation(c: ComposedShader, lineNum: number): string {
  const at = c.lines[lineNum - 1];
  return at ? `${at.file}:${at.line}` : `(composed):${lineNum}`;
}
