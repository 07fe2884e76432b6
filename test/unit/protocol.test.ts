// The wire format (docs/protocol.md): frames, records, hello, and the
// agreement between the two implementations' numbers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeRun, decodeStdinAck, encodeRun, encodeStdin, encodeStdinAck, encodeStdinEnd } from '../../src/session/messages.js';
import {
  DEFAULT_MAX_FILES,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_POWEROFF_GRACE_MS,
  EXEC_VSOCK_PORT,
  LINK_VSOCK_PORT,
  Field,
  FrameDecoder,
  GUEST_VSOCK_PORT,
  MAX_AGENT_BYTES,
  MAX_ENTRY_PATH_BYTES,
  MAX_FRAME_PAYLOAD,
  MessageType,
  PROTOCOL_MAGIC,
  PROTOCOL_VERSION,
  ProtocolError,
  RecordReader,
  STDIN_WINDOW,
  decodeHello,
  encodeFrame,
  encodeHello,
  encodeRecord,
} from '../../src/session/protocol.js';
import { repoRoot } from '../helpers/artifacts.js';

/** guest/src/protocol.h's #defines, with their simple constant expressions evaluated. */
function cDefines(): Map<string, number | string> {
  const src = readFileSync(join(repoRoot, 'guest', 'src', 'protocol.h'), 'utf8');
  const defs = new Map<string, number | string>();
  for (const m of src.matchAll(/^#define (\w+) (.+)$/gm)) {
    const value = m[2]!.trim();
    if (value.startsWith('"')) defs.set(m[1]!, JSON.parse(value) as string);
    else {
      const expr = value.replace(/(\d+)u?l{0,2}\b/g, '$1').replace(/0x([0-9a-fA-F]+)/g, (_, h: string) => String(parseInt(h, 16)));
      if (!/^[\d\s()<+*]+$/.test(expr)) throw new Error(`cannot evaluate ${m[1]} = ${value}`);
      defs.set(m[1]!, Function(`return (${expr});`)() as number);
    }
  }
  return defs;
}

describe('guest/src/protocol.h and src/session/protocol.ts', () => {
  const c = cDefines();
  const upper = (s: string) => s.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

  test('agree on the version, magic, limits, port and defaults', () => {
    expect(c.get('PROTO_VERSION')).toBe(PROTOCOL_VERSION);
    expect(c.get('PROTO_MAGIC')).toBe(PROTOCOL_MAGIC);
    expect(c.get('PROTO_MAX_PAYLOAD')).toBe(MAX_FRAME_PAYLOAD);
    expect(c.get('PROTO_MAX_AGENT')).toBe(MAX_AGENT_BYTES);
    expect(c.get('PROTO_STDIN_WINDOW')).toBe(STDIN_WINDOW);
    expect(c.get('PROTO_VSOCK_PORT')).toBe(GUEST_VSOCK_PORT);
    expect(c.get('PROTO_EXEC_VSOCK_PORT')).toBe(EXEC_VSOCK_PORT);
    expect(c.get('PROTO_LINK_VSOCK_PORT')).toBe(LINK_VSOCK_PORT);
    expect(c.get('PROTO_MAX_ENTRY_PATH')).toBe(MAX_ENTRY_PATH_BYTES);
    expect(c.get('DEFAULT_POWEROFF_GRACE_MS')).toBe(DEFAULT_POWEROFF_GRACE_MS);
    expect(c.get('DEFAULT_MAX_FILE_BYTES')).toBe(DEFAULT_MAX_FILE_BYTES);
    expect(c.get('DEFAULT_MAX_FILES')).toBe(DEFAULT_MAX_FILES);
  });

  test('agree on every message type', () => {
    const cTypes = [...c].filter(([k]) => k.startsWith('MSG_'));
    expect(cTypes.length).toBe(Object.keys(MessageType).length);
    for (const [name, value] of Object.entries(MessageType)) expect(c.get(`MSG_${upper(name)}`), name).toBe(value);
  });

  test('agree on every field tag', () => {
    const prefixes: Record<keyof typeof Field, string> = {
      Run: 'RUN',
      Serve: 'SERVE',
      Ready: 'READY',
      Poweroff: 'POWEROFF',
      Put: 'PUT',
      Get: 'GET',
      List: 'LIST',
      Done: 'DONE',
      Entry: 'ENTRY',
      Forward: 'FORWARD',
      Link: 'LINK',
      Dial: 'DIAL',
      Signal: 'SIGNAL',
      Started: 'STARTED',
      Exit: 'EXIT',
      File: 'FILE',
      FileEnd: 'FILE_END',
      OutputIssue: 'ISSUE',
      Timings: 'TIMINGS',
      StdinAck: 'STDIN_ACK',
      Error: 'ERROR',
    };
    let count = 0;
    for (const [message, fields] of Object.entries(Field) as [keyof typeof Field, Record<string, number>][]) {
      for (const [name, tag] of Object.entries(fields)) {
        expect(c.get(`${prefixes[message]}_${upper(name)}`), `${message}.${name}`).toBe(tag);
        count++;
      }
    }
    const cFields = [...c.keys()].filter((k) => /^(RUN|SERVE|READY|POWEROFF|PUT|GET|LIST|DONE|ENTRY|FORWARD|LINK|DIAL|SIGNAL|STARTED|EXIT|FILE|FILE_END|ISSUE|TIMINGS|STDIN_ACK|ERROR)_/.test(k));
    expect(cFields.length).toBe(count);
  });
});

describe('FrameDecoder', () => {
  const frames = [encodeFrame(MessageType.Stdout, Buffer.from('hello')), encodeFrame(MessageType.Stderr), encodeFrame(MessageType.Stdout, Buffer.alloc(70_000, 7))];
  const stream = Buffer.concat(frames);

  test('reassembles frames however the stream is split', () => {
    for (const step of [1, 2, 5, 6, 4096, stream.length]) {
      const d = new FrameDecoder();
      const got = [];
      for (let i = 0; i < stream.length; i += step) got.push(...d.push(stream.subarray(i, i + step)));
      expect(got.map((f) => [f.type, f.payload.length])).toEqual([
        [MessageType.Stdout, 5],
        [MessageType.Stderr, 0],
        [MessageType.Stdout, 70_000],
      ]);
      expect(got[0]!.payload.toString()).toBe('hello');
      expect(got[2]!.payload.every((b) => b === 7)).toBe(true);
      expect(d.pendingBytes).toBe(0);
    }
  });

  test('refuses an oversized frame from its header alone, before buffering its payload', () => {
    const header = Buffer.from([MessageType.Stdout, 0, 0x10, 0, 1]); // 1 MiB + 1
    expect(() => new FrameDecoder().push(header)).toThrow(ProtocolError);
    expect(() => new FrameDecoder().push(header)).toThrow(/Stdout \(0x11\) frame of 1048577 bytes, over the 1048576-byte limit/);
    const exactly = Buffer.from([MessageType.Stdout, 0, 0x10, 0, 0]);
    expect(new FrameDecoder().push(exactly)).toEqual([]);
  });

  test('refuses to encode an oversized frame', () => {
    expect(() => encodeFrame(MessageType.Stdout, Buffer.alloc(MAX_FRAME_PAYLOAD + 1))).toThrow(RangeError);
  });
});

describe('records', () => {
  test('round-trip strings, numbers, flags and raw bytes; the last of a repeated tag wins for single values', () => {
    const r = new RecordReader(encodeRecord([[1, 'é'], [2, 2 ** 40], [3, true], [4, Buffer.from([0, 255])], [1, 'last']]), 'TEST');
    expect(r.string(1)).toBe('last');
    expect(r.strings(1)).toEqual(['é', 'last']);
    expect(r.u64(2)).toBe(2 ** 40);
    expect(r.bool(3)).toBe(true);
    expect(r.has(9)).toBe(false);
  });

  test('a field that runs past the end of its payload is an error that names the message', () => {
    const good = encodeRecord([[1, 'abc']]);
    expect(() => new RecordReader(good.subarray(0, good.length - 1), 'EXIT')).toThrow('EXIT: field 1 claims 3 bytes but only 2 remain');
    expect(() => new RecordReader(good.subarray(0, 3), 'EXIT')).toThrow('EXIT: a field header is cut off at byte 0 of 3');
  });

  test('a number that is not 8 bytes, or too large to be exact, is an error', () => {
    expect(() => new RecordReader(encodeRecord([[2, 'abcd']]), 'FILE').u64(2)).toThrow('FILE: field 2 should be an 8-byte number, got 4 bytes');
    expect(() => new RecordReader(encodeRecord([[2, Buffer.alloc(8, 0xff)]]), 'FILE').u64(2)).toThrow(/too large/);
  });

  test('the run spec survives encoding with every field, defaults filled in', () => {
    const spec = {
      argv: ['a', 'b c'], env: ['X=1'], workdir: '/w', user: 'app:staff', hostname: 'h', outputs: ['o/*'], maxFileBytes: 5, maxFiles: 6, privileged: true,
      volumeDevice: '/dev/vdb', volumes: [{ name: '0', guestPath: '/src' }, { name: '1', guestPath: '/a:b/c d' }], stdin: true,
    };
    const frame = new FrameDecoder().push(encodeRun(spec))[0]!;
    expect(frame.type).toBe(MessageType.Run);
    expect(decodeRun(frame.payload)).toEqual(spec);
    expect(decodeRun(new FrameDecoder().push(encodeRun({ argv: ['a'], env: [] }))[0]!.payload)).toEqual({
      argv: ['a'], env: [], workdir: '/', user: '', hostname: 'vmstep', outputs: [], maxFileBytes: DEFAULT_MAX_FILE_BYTES, maxFiles: DEFAULT_MAX_FILES, privileged: false,
      volumeDevice: '', volumes: [], stdin: false,
    });
  });

  test('a run spec the guest could not use is refused on the host', () => {
    expect(() => encodeRun({ argv: [], env: [] })).toThrow('the run spec has no command: argv is empty');
    expect(() => encodeRun({ argv: ['a\0b'], env: [] })).toThrow(/NUL/);
    expect(() => encodeRun({ argv: ['a'], env: ['NOEQUALS'] })).toThrow(/not NAME=value/);
    expect(() => encodeRun({ argv: ['a'], env: [], workdir: 'relative' })).toThrow("the working directory 'relative' is not an absolute path");
    expect(() => encodeRun({ argv: ['a'], env: [], volumes: [{ name: '0', guestPath: '/src' }] })).toThrow('the run spec has volumes but no volume device');
    expect(() => encodeRun({ argv: ['a'], env: [], volumeDevice: '/dev/vdb', volumes: [{ name: 'a/b', guestPath: '/src' }] })).toThrow(/one path component/);
    expect(() => encodeRun({ argv: ['a'], env: [], volumeDevice: '/dev/vdb', volumes: [{ name: '0', guestPath: 'src' }] })).toThrow(/not absolute/);
  });

  test('stdin frames carry raw bytes, its end is an empty frame, and acknowledgements a count', () => {
    const frames = new FrameDecoder().push(Buffer.concat([encodeStdin(Buffer.from([0, 1, 255])), encodeStdinEnd(), encodeStdinAck(4096)]));
    expect(frames.map((f) => f.type)).toEqual([MessageType.Stdin, MessageType.StdinEnd, MessageType.StdinAck]);
    expect([...frames[0]!.payload]).toEqual([0, 1, 255]);
    expect(frames[1]!.payload.length).toBe(0);
    expect(decodeStdinAck(frames[2]!.payload)).toBe(4096);
  });
});

describe('hello', () => {
  test('carries the magic, the version and the agent', () => {
    const frame = new FrameDecoder().push(encodeHello(7, 'me'))[0]!;
    expect(frame.type).toBe(MessageType.Hello);
    expect(frame.payload.subarray(0, 8)).toEqual(Buffer.from([0x56, 0x4d, 0x53, 0x54, 0x45, 0x50, 0, 7]));
    expect(decodeHello(frame.payload)).toEqual({ version: 7, agent: 'me' });
  });

  test('without the magic is not a hello', () => {
    expect(decodeHello(Buffer.from('GET / HTTP/1.1'))).toBeNull();
    expect(decodeHello(Buffer.from('VMST'))).toBeNull();
  });
});
