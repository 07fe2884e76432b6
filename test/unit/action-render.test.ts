import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readActionInputs } from '../../src/action/inputs.js';
import { LinePrefixer } from '../../src/action/line-prefixer.js';
import { code, fence, renderSummary } from '../../src/action/summary.js';
import { lastLines, tailOfFile } from '../../src/action/truncate.js';
import { shellQuote, splitShellWords } from '../../src/engine/shell.js';
import type { RunResult } from '../../src/engine/types.js';

describe('output truncation', () => {
  const file = (content: string | Buffer) => {
    const p = join(mkdtempSync(join(tmpdir(), 'vmstep-trunc-')), 'out');
    writeFileSync(p, content);
    return p;
  };

  it('keeps short output whole, without a note', () => {
    expect(tailOfFile(file('hello\n'), 100, 'stdout')).toEqual({ text: 'hello\n', truncated: false, totalBytes: 6 });
    expect(tailOfFile(null, 100, 'stdout')).toEqual({ text: '', truncated: false, totalBytes: 0 });
  });

  it('keeps the tail of long output and says so in front', () => {
    const t = tailOfFile(file('a'.repeat(1000) + 'END'), 10, 'stderr');
    expect(t).toEqual({ text: '[vmstep: stderr cut to its last 10 of 1003 bytes; all of it is in the stderr-file output]\naaaaaaaEND', truncated: true, totalBytes: 1003 });
  });

  it('never starts with half a UTF-8 character', () => {
    const t = tailOfFile(file('€€€€'), 7, 'stdout'); // 12 bytes; the last 7 start inside a €
    expect(t.text.split('\n')[1]).toBe('€€');
    expect(t.text).toContain('last 6 of 12 bytes');
  });

  it('takes the last lines for the summary', () => {
    expect(lastLines('1\n2\n3\n', 2)).toEqual({ text: '2\n3', cut: true });
    expect(lastLines('1\n2', 5)).toEqual({ text: '1\n2', cut: false });
  });
});

describe('summary markdown', () => {
  it('holds untrusted text in code that it cannot close', () => {
    expect(code('a`b')).toBe('``a`b``');
    expect(code('`x`')).toBe('`` `x` ``');
    expect(code('two\nlines')).toBe('`two lines`');
    expect(fence('```\n# not a heading')).toBe('````text\n```\n# not a heading\n````');
  });

  it('renders a failed run with its signal', () => {
    const r: RunResult = {
      exitCode: 137,
      signal: 'SIGKILL',
      timedOut: false,
      image: { reference: 'i', digest: 'sha256:1' },
      command: ['sh', '-c', "echo 'x'"],
      outputs: [],
      outputIssues: [],
      timings: { imageMs: 1, rootfsMs: 1, bootMs: 1, commandMs: 1, totalMs: 4 },
      stdoutFile: null,
      stderrFile: null,
      stdoutBytes: 0,
      stderrBytes: 0,
      outputDir: '/o',
    };
    const md = renderSummary({ result: r, stdoutTail: '', stdoutTruncated: false, timeoutMs: 0, allowFailure: false, artifact: null });
    expect(md).toContain('### ❌ vmstep: `i` exited with 137 (SIGKILL)');
    expect(md).toContain(`| Command | \`sh -c 'echo '\\''x'\\'''\` |`);
    expect(md).toContain('_No output on stdout._');
    expect(md).not.toContain('Returned files');
  });
});

describe('shell words', () => {
  it.each<[string, string[]]>([
    ['a b  c', ['a', 'b', 'c']],
    [`--name "two words" 'single $HOME' \\"esc\\"`, ['--name', 'two words', 'single $HOME', '"esc"']],
    ['"" x', ['', 'x']],
    ['line\none\\\ncontinued', ['line', 'onecontinued']],
    ['"a\\"b\\\\c"', ['a"b\\c']],
    ['$HOME *.txt', ['$HOME', '*.txt']],
  ])('splits %j without expanding anything', (text, words) => {
    expect(splitShellWords(text, 'args')).toEqual(words);
  });

  it('quotes an argv back for people', () => {
    expect(shellQuote(['ls', '-la', 'a b', '', "it's"])).toBe(`ls -la 'a b' '' 'it'\\''s'`);
  });
});

describe('guest console in the log', () => {
  it('prefixes every line so console text cannot issue workflow commands', () => {
    let out = '';
    const p = new LinePrefixer('console: ', (t) => (out += t));
    p.push(Buffer.from('::error::x\r\npart'));
    p.push(Buffer.concat([Buffer.from('ial\rnext\n'), Buffer.from([0xe2])])); // a euro sign split across chunks
    p.push(Buffer.from([0x82, 0xac]));
    p.flush();
    expect(out).toBe('console: ::error::x\nconsole: partial\nconsole: next\nconsole: €\n');
  });
});

describe('action inputs', () => {
  const get = (values: Record<string, string>) => (name: string) => values[name] ?? '';

  it('turns `run` into sh -c, with args as $1...', () => {
    expect(readActionInputs(get({ image: 'i', run: 'echo "$1"\n', args: 'a "b c"' })).run).toMatchObject({ entrypoint: ['sh', '-c'], command: ['echo "$1"\n', 'vmstep', 'a', 'b c'] });
  });

  it("leaves the image's command alone when neither run nor args is given", () => {
    const r = readActionInputs(get({ image: 'i' })).run;
    expect(r.entrypoint).toBeUndefined();
    expect(r.command).toEqual([]);
  });

  it('reads outputs one per line, skipping blanks and comments', () => {
    expect(readActionInputs(get({ image: 'i', outputs: ' /a \n\n# note\n/b/*.json\n' })).run.outputs).toEqual(['/a', '/b/*.json']);
  });

  it('collects the password as a secret to mask', () => {
    expect(readActionInputs(get({ image: 'i', 'registry-username': 'u', 'registry-password': 'p' })).secrets).toEqual(['p']);
  });
});
