// The host-guest protocol's wire format (docs/protocol.md): frames of
// type + big-endian length + payload, and records of tag-length-value fields.
// The guest is untrusted, so everything here is bounded: a frame's length is
// checked before any of it is buffered, and a record is walked with bounds
// checks. guest/src/protocol.h holds the same numbers for guest init;
// test/unit/protocol.test.ts checks that the two agree.

export const PROTOCOL_VERSION = 3;
export const PROTOCOL_MAGIC = 'VMSTEP';
/** Guest init connects to the host (CID 2) on this vsock port; the VMM maps it to `<vsockUdsPath>_1024`. */
export const GUEST_VSOCK_PORT = 1024;
/** Service mode: guest init listens on this vsock port for session connections (sent in SERVE). */
export const EXEC_VSOCK_PORT = 1025;
/** Links: guest init carries a linked connection out to the host on this vsock port; the VMM maps it to `<vsockUdsPath>_1026`. */
export const LINK_VSOCK_PORT = 1026;
/** The longest entry path PUT, GET and LIST carry (relative, bytes). */
export const MAX_ENTRY_PATH_BYTES = 4095;
/** POWEROFF without a grace field. */
export const DEFAULT_POWEROFF_GRACE_MS = 5000;
export const FRAME_HEADER_BYTES = 5;
export const MAX_FRAME_PAYLOAD = 1 << 20;
export const MAX_AGENT_BYTES = 256;
/** The most STDIN bytes the host may have sent that the guest has not acknowledged (STDIN_ACK). */
export const STDIN_WINDOW = 1 << 20;
export const DEFAULT_MAX_FILE_BYTES = 25 * 1024 * 1024;
export const DEFAULT_MAX_FILES = 255;

export const MessageType = {
  Hello: 0x01,
  Run: 0x02,
  Signal: 0x03,
  Stdin: 0x04,
  StdinEnd: 0x05,
  Serve: 0x06,
  Poweroff: 0x07,
  Put: 0x08,
  Get: 0x09,
  List: 0x0a,
  PutEnd: 0x0b,
  Forward: 0x0c,
  Link: 0x0d,
  Started: 0x10,
  Stdout: 0x11,
  Stderr: 0x12,
  Exit: 0x13,
  File: 0x14,
  FileData: 0x15,
  FileEnd: 0x16,
  OutputIssue: 0x17,
  Timings: 0x18,
  StdinAck: 0x19,
  Ready: 0x1a,
  Done: 0x1b,
  Entry: 0x1c,
  Dial: 0x1d,
  Error: 0x1f,
  StreamData: 0x20,
  StreamFin: 0x21,
  StreamReset: 0x22,
} as const;
export type MessageTypeName = keyof typeof MessageType;

/** Field tags of each record message. */
export const Field = {
  Run: { arg: 1, env: 2, workdir: 3, user: 4, hostname: 5, output: 6, maxFileBytes: 7, maxFiles: 8, privileged: 9, volumeDevice: 10, volume: 11, stdin: 12 },
  Serve: { arg: 1, env: 2, workdir: 3, user: 4, hostname: 5, privileged: 9, volumeDevice: 10, volume: 11, execPort: 13 },
  Ready: { readyNs: 1 },
  Poweroff: { graceMs: 1 },
  Put: { path: 1, user: 4 },
  Get: { path: 1 },
  List: { path: 1 },
  Done: { error: 1, entries: 2 },
  Forward: { port: 1 },
  Link: { name: 1, address: 2, port: 3 },
  Dial: { name: 1, port: 2 },
  Entry: { path: 1, type: 2, mode: 3, size: 4, linkTarget: 5, mtimeNs: 6 },
  Signal: { signal: 1 },
  Started: { pid: 1, commandStartNs: 2 },
  Exit: { code: 1, signal: 2, signalName: 3, error: 4 },
  File: { path: 1, mode: 2, size: 3 },
  FileEnd: { error: 1 },
  OutputIssue: { request: 1, path: 2, reason: 3, message: 4 },
  Timings: { initStartNs: 1, specReceivedNs: 2, commandStartNs: 3, commandEndNs: 4, outputsEndNs: 5 },
  StdinAck: { bytes: 1 },
  Error: { stage: 1, message: 2 },
} as const;

const typeNames = new Map<number, MessageTypeName>(Object.entries(MessageType).map(([k, v]) => [v, k as MessageTypeName]));

/** The name of a message type for error messages: `Stdout (0x11)`, or `unknown (0x7f)`. */
export function describeType(type: number): string {
  return `${typeNames.get(type) ?? 'unknown'} (0x${type.toString(16).padStart(2, '0')})`;
}

/** A peer broke the protocol: malformed, oversized or out-of-order data. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export interface Frame {
  type: number;
  payload: Buffer;
}

export function encodeFrame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`a ${describeType(type)} payload of ${payload.length} bytes exceeds the protocol's ${MAX_FRAME_PAYLOAD}-byte frame limit`);
  }
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header[0] = type;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/**
 * Splits a byte stream into frames as it arrives. It holds at most one
 * incomplete frame (bounded by maxPayload) plus the chunk being pushed, and
 * copies payloads only when they straddle chunks.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxPayload = MAX_FRAME_PAYLOAD) {}

  /** Feeds bytes; returns the frames they complete. Throws ProtocolError on an oversized frame. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) break;
      const header = this.peek(FRAME_HEADER_BYTES);
      const type = header[0]!;
      const length = header.readUInt32BE(1);
      if (length > this.maxPayload) {
        throw new ProtocolError(
          `the peer sent a ${describeType(type)} frame of ${length} bytes, over the ${this.maxPayload}-byte limit: it does not speak this protocol or is misbehaving`,
        );
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.take(FRAME_HEADER_BYTES);
      frames.push({ type, payload: this.take(length) });
    }
    return frames;
  }

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    // Only the few chunks that hold the header: a stream of tiny chunks must not cost O(chunks) per push.
    const parts: Buffer[] = [];
    for (let i = 0, have = 0; have < n; i++) {
      parts.push(this.chunks[i]!);
      have += this.chunks[i]!.length;
    }
    return Buffer.concat(parts).subarray(0, n);
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    let used = 0;
    while (at < n) {
      const c = this.chunks[used]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) used++;
      else this.chunks[used] = c.subarray(k);
    }
    this.chunks.splice(0, used); // once, not a shift per chunk: many tiny chunks stay linear
    return out;
  }
}

// Records -------------------------------------------------------------------

export type FieldValue = string | number | bigint | boolean | Uint8Array;

/** Builds a record payload. Numbers are u64 (non-negative safe integers), booleans one byte. */
export function encodeRecord(fields: ReadonlyArray<readonly [tag: number, value: FieldValue]>): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, value] of fields) {
    let bytes: Buffer;
    if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
    else if (typeof value === 'boolean') bytes = Buffer.from([value ? 1 : 0]);
    else if (typeof value === 'bigint') {
      if (value < 0n || value >= 1n << 64n) throw new RangeError(`field ${tag}: ${value} is not a u64`);
      bytes = Buffer.allocUnsafe(8);
      bytes.writeBigUInt64BE(value);
    } else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`field ${tag}: ${value} is not a non-negative integer`);
      bytes = Buffer.allocUnsafe(8);
      bytes.writeBigUInt64BE(BigInt(value));
    } else bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const head = Buffer.allocUnsafe(5);
    head[0] = tag;
    head.writeUInt32BE(bytes.length, 1);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}

/** A received record's fields, read with checks that name the message. */
export class RecordReader {
  private readonly fields: { tag: number; value: Buffer }[] = [];

  constructor(
    payload: Buffer,
    private readonly what: string,
  ) {
    let at = 0;
    while (at < payload.length) {
      if (payload.length - at < 5) throw new ProtocolError(`${what}: a field header is cut off at byte ${at} of ${payload.length}`);
      const tag = payload[at]!;
      const len = payload.readUInt32BE(at + 1);
      if (len > payload.length - at - 5) {
        throw new ProtocolError(`${what}: field ${tag} claims ${len} bytes but only ${payload.length - at - 5} remain`);
      }
      this.fields.push({ tag, value: payload.subarray(at + 5, at + 5 + len) });
      at += 5 + len;
    }
  }

  private last(tag: number): Buffer | undefined {
    for (let i = this.fields.length - 1; i >= 0; i--) if (this.fields[i]!.tag === tag) return this.fields[i]!.value;
    return undefined;
  }

  has(tag: number): boolean {
    return this.last(tag) !== undefined;
  }

  string(tag: number): string | undefined {
    const v = this.last(tag);
    return v === undefined ? undefined : v.toString('utf8');
  }

  strings(tag: number): string[] {
    return this.fields.filter((f) => f.tag === tag).map((f) => f.value.toString('utf8'));
  }

  /** A u64 as a number; values above 2^53 are refused rather than rounded. */
  u64(tag: number): number | undefined {
    const v = this.last(tag);
    if (v === undefined) return undefined;
    if (v.length !== 8) throw new ProtocolError(`${this.what}: field ${tag} should be an 8-byte number, got ${v.length} bytes`);
    const n = v.readBigUInt64BE();
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${this.what}: field ${tag} is ${n}, too large`);
    return Number(n);
  }

  /** A u64 of any size (nanosecond timestamps exceed 2^53). */
  bigU64(tag: number): bigint | undefined {
    const v = this.last(tag);
    if (v === undefined) return undefined;
    if (v.length !== 8) throw new ProtocolError(`${this.what}: field ${tag} should be an 8-byte number, got ${v.length} bytes`);
    return v.readBigUInt64BE();
  }

  bool(tag: number): boolean | undefined {
    const v = this.last(tag);
    if (v === undefined) return undefined;
    if (v.length !== 1 || v[0]! > 1) throw new ProtocolError(`${this.what}: field ${tag} should be one byte 0 or 1`);
    return v[0] === 1;
  }

  requireString(tag: number): string {
    const s = this.string(tag);
    if (s === undefined) throw new ProtocolError(`${this.what}: required field ${tag} is missing`);
    return s;
  }

  requireU64(tag: number): number {
    const n = this.u64(tag);
    if (n === undefined) throw new ProtocolError(`${this.what}: required field ${tag} is missing`);
    return n;
  }
}

// HELLO ---------------------------------------------------------------------

export interface Hello {
  version: number;
  agent: string;
}

export function encodeHello(version = PROTOCOL_VERSION, agent = 'vmstep-host'): Buffer {
  const agentBytes = Buffer.from(agent, 'utf8').subarray(0, MAX_AGENT_BYTES);
  const payload = Buffer.alloc(PROTOCOL_MAGIC.length + 2 + agentBytes.length);
  payload.write(PROTOCOL_MAGIC, 0, 'ascii');
  payload.writeUInt16BE(version, PROTOCOL_MAGIC.length);
  agentBytes.copy(payload, PROTOCOL_MAGIC.length + 2);
  return encodeFrame(MessageType.Hello, payload);
}

/** Parses a HELLO payload; null when it lacks the magic (the peer does not speak this protocol). */
export function decodeHello(payload: Buffer): Hello | null {
  const m = PROTOCOL_MAGIC.length;
  if (payload.length < m + 2 || payload.toString('ascii', 0, m) !== PROTOCOL_MAGIC) return null;
  return { version: payload.readUInt16BE(m), agent: payload.subarray(m + 2, m + 2 + MAX_AGENT_BYTES).toString('utf8') };
}
