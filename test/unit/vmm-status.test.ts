// The VMM's status lines (docs/vmm-status.md): the specification, the C++
// that writes them (native/src/vmm/status.cc, vm.cc) and the TypeScript that
// reads them (src/vm/launch.ts, probe.ts) must name the same fields and
// reasons. Like test/unit/protocol.test.ts, without building anything.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_REASONS, parseStatusLine } from '../../src/vm/launch.js';
import { repoRoot } from '../helpers/artifacts.js';

const read = (...p: string[]) => readFileSync(join(repoRoot, ...p), 'utf8');
const spec = read('docs', 'vmm-status.md');

/** The first column of each table row (in backticks) under the `## heading` section. */
function specColumn(heading: string, table = 0): string[] {
  const start = spec.indexOf(`## ${heading}\n`);
  if (start < 0) throw new Error(`docs/vmm-status.md has no section ${heading}`);
  const end = spec.indexOf('\n## ', start + 1);
  const section = spec.slice(start, end < 0 ? undefined : end);
  const tables = section.split(/\n\n(?=\|)/).filter((t) => t.startsWith('|'));
  const names = [...(tables[table] ?? '').matchAll(/^\| `([\w-]+)` \|/gm)].map((m) => m[1]!);
  if (names.length === 0) throw new Error(`docs/vmm-status.md: no table ${table} under ${heading}`);
  return names;
}

/** The JSON keys that a C++ function writes (`\"key\":` in its source). */
function cppKeys(file: string, fn: string): string[] {
  const src = read('native', 'src', 'vmm', file);
  const start = src.indexOf(`std::string ${fn}(`);
  if (start < 0) throw new Error(`${file} has no ${fn}`);
  const body = src.slice(start, src.indexOf('\n}\n', start));
  const keys = [...body.matchAll(/\\"(\w+)\\":/g)].map((m) => m[1]!);
  if (keys.length === 0) throw new Error(`${file}: ${fn} writes no fields`);
  return keys;
}

describe('docs/vmm-status.md and the VMM', () => {
  test('the ready line has exactly the specified fields', () => {
    expect(cppKeys('status.cc', 'ReadyJson').sort()).toEqual(specColumn('`ready`').sort());
  });

  test('the exit line has exactly the specified fields', () => {
    expect(cppKeys('status.cc', 'ExitJson').sort()).toEqual(specColumn('`exit`').sort());
  });

  test('the probe has exactly the specified fields', () => {
    expect(cppKeys('status.cc', 'ProbeJson').sort()).toEqual(specColumn('`vmstep-vmm --probe`').sort());
  });

  test('every exit reason the VMM names is specified, and no other', () => {
    const src = read('native', 'src', 'vmm', 'vm.cc');
    const fn = src.slice(src.indexOf('const char* ExitReasonName('), src.indexOf('\n}\n', src.indexOf('const char* ExitReasonName(')));
    const names = new Set([...fn.matchAll(/return "([\w-]+)";/g)].map((m) => m[1]!));
    // main.cc reports a set-up failure as "error" too.
    expect([...names].sort()).toEqual(specColumn('`exit`', 1).sort());
  });
});

describe('docs/vmm-status.md and the launcher', () => {
  test('knows every specified exit reason', () => {
    expect([...EXIT_REASONS].sort()).toEqual(specColumn('`exit`', 1).sort());
  });

  test('reads every field of a ready line, pinned or not', () => {
    expect(parseStatusLine('{"event":"ready","setupMicros":812,"cmdline":"root=/dev/vda","pinnedCpus":[2,3]}')).toEqual({ event: 'ready', cmdline: 'root=/dev/vda', pinning: { cpus: [2, 3] } });
    expect(parseStatusLine('{"event":"ready","setupMicros":812,"cmdline":"x","pinError":"vCPU 0 on host CPU 9: Invalid argument"}')).toEqual({
      event: 'ready',
      cmdline: 'x',
      pinning: { error: 'vCPU 0 on host CPU 9: Invalid argument' },
    });
  });

  test('reads every field of an exit line, for each reason', () => {
    for (const reason of specColumn('`exit`', 1)) {
      expect(parseStatusLine(JSON.stringify({ event: 'exit', reason, detail: 'd', consoleTail: 'tail\u0001' }))).toEqual({ event: 'exit', reason, detail: 'd', consoleTail: 'tail\u0001' });
    }
  });

  test('the probe fields are those of KvmProbe', () => {
    const src = read('src', 'vm', 'probe.ts');
    const body = src.slice(src.indexOf('export interface KvmProbe {'), src.indexOf('\n}\n', src.indexOf('export interface KvmProbe {')));
    expect([...body.matchAll(/^\s+(\w+): /gm)].map((m) => m[1]!).sort()).toEqual(specColumn('`vmstep-vmm --probe`').sort());
  });
});
