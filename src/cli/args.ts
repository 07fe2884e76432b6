// A small option parser with docker's rules, because `vmstep run` must stop
// reading options at the image: in `vmstep run alpine ls -la`, `-la` belongs
// to ls. (node:util parseArgs cannot stop at the first positional.) The same
// table drives the parser and the --help text, so they never disagree.
import { VmstepError } from '../engine/errors.js';

export interface OptionSpec {
  /** Key in the parsed values. */
  key: string;
  long: string;
  short?: string;
  /** Name of the value in the help (SIZE, PATH); absent for a flag. */
  value?: string;
  /**
   * The value may be left out (`--wait` or `--wait=5m`, docker's
   * `--detach-keys` style): it is then only taken after `=`, never from the
   * next argument, which stays an image or command.
   */
  optionalValue?: boolean;
  repeatable?: boolean;
  help: string;
  /** Accepted for docker compatibility and ignored; not shown in the help. */
  hidden?: boolean;
}

export type Values = Record<string, string | string[] | boolean | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

export interface ParseContext {
  /** "vmstep run": names the command in errors. */
  command: string;
  /** Stop at the first positional: everything after it is positional (docker run). */
  stopAtPositional: boolean;
}

function unknownOption(arg: string, ctx: ParseContext): VmstepError {
  return new VmstepError(`unknown option ${arg} for "${ctx.command}"`, `see "${ctx.command} --help"${ctx.stopAtPositional ? '; options go before the image' : ''}`);
}

export function parseCommandLine(argv: string[], specs: OptionSpec[], ctx: ParseContext): Parsed {
  const values: Values = {};
  const positionals: string[] = [];
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));

  const set = (spec: OptionSpec, value: string | true) => {
    if (spec.repeatable) {
      const list = (values[spec.key] as string[] | undefined) ?? [];
      list.push(value as string);
      values[spec.key] = list;
    } else {
      values[spec.key] = value;
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      if (ctx.stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    const takeValue = (spec: OptionSpec, shown: string): string => {
      const next = argv[i + 1];
      if (next === undefined) throw new VmstepError(`option ${shown} needs a value (${spec.value})`, `write ${shown} ${spec.value}; see "${ctx.command} --help"`);
      i++;
      return next;
    };
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec) throw unknownOption(eq < 0 ? arg : arg.slice(0, eq), ctx);
      if (spec.value === undefined) {
        if (eq >= 0) throw new VmstepError(`option --${name} takes no value`, `write --${name} alone`);
        set(spec, true);
      } else if (spec.optionalValue) {
        set(spec, eq >= 0 ? arg.slice(eq + 1) : true);
      } else {
        set(spec, eq >= 0 ? arg.slice(eq + 1) : takeValue(spec, `--${name}`));
      }
      continue;
    }
    // Short options: "-e K=V", "-eK=V", and bundled flags such as "-qd".
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      const spec = byShort.get(letter);
      if (!spec) throw unknownOption(`-${letter}`, ctx);
      if (spec.value === undefined) {
        set(spec, true);
        continue;
      }
      const rest = arg.slice(j + 1);
      set(spec, rest !== '' ? rest.replace(/^=/, '') : takeValue(spec, `-${letter}`));
      break;
    }
  }
  return { values, positionals };
}

/** The options part of a --help text. */
export function formatOptions(specs: OptionSpec[]): string {
  const rows = specs
    .filter((s) => !s.hidden)
    .map((s) => {
      const value = s.value ? (s.optionalValue ? `[=${s.value}]` : ` ${s.value}`) : '';
      const names = `${s.short ? `-${s.short}, ` : '    '}--${s.long}${value}`;
      return [names, s.help] as const;
    });
  const width = Math.max(...rows.map(([n]) => n.length)) + 2;
  return rows.map(([n, h]) => `  ${n.padEnd(width)}${h}`).join('\n');
}

export function stringValue(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function listValue(values: Values, key: string): string[] {
  const v = values[key];
  return Array.isArray(v) ? v : [];
}
