// Argument parsing on node:util's parseArgs, with every error phrased for a
// person: the flag, what was wrong, and where to look.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  adapter: { type: 'string' },
  debug: { type: 'string' },
} as const satisfies Options;

export function parseCommand<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(`nowt ${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}. See \`nowt ${command} --help\`.`);
  }
}
