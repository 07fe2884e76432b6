// The host half of stdin streaming on its own: what it sends for a source,
// and that it never runs ahead of the guest's acknowledgements.
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { FrameDecoder, MessageType, ProtocolError } from '../../src/session/protocol.js';
import { STDIN_FRAME_BYTES, StdinPump } from '../../src/session/stdin.js';

function pump(window: number) {
  const source = new PassThrough();
  const decoder = new FrameDecoder();
  const frames: { type: number; bytes: number }[] = [];
  const p = new StdinPump(source, (f) => frames.push(...decoder.push(f).map((x) => ({ type: x.type, bytes: x.payload.length }))), window);
  p.start();
  const sent = () => frames.filter((f) => f.type === MessageType.Stdin).reduce((n, f) => n + f.bytes, 0);
  return { source, frames, p, sent };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('StdinPump', () => {
  test('sends the source in frames of at most STDIN_FRAME_BYTES, then STDIN_END at its end', async () => {
    const { source, frames, sent } = pump(1 << 20);
    source.end(Buffer.alloc(STDIN_FRAME_BYTES + 10));
    await tick();
    await tick();
    expect(frames.map((f) => f.bytes)).toEqual([STDIN_FRAME_BYTES, 10, 0]);
    expect(frames.at(-1)!.type).toBe(MessageType.StdinEnd);
    expect(sent()).toBe(STDIN_FRAME_BYTES + 10);
  });

  test('never has more than the window unacknowledged, and pauses the source until acknowledgements open it', async () => {
    const { source, frames, p, sent } = pump(1000);
    source.write(Buffer.alloc(2500));
    await tick();
    expect(sent()).toBe(1000);
    expect(source.isPaused()).toBe(true);
    p.ack(600);
    expect(sent()).toBe(1600);
    p.ack(1000);
    expect(sent()).toBe(2500);
    expect(frames.some((f) => f.type === MessageType.StdinEnd)).toBe(false);
  });

  test('an acknowledgement of more than was sent is a protocol error', async () => {
    const { source, p } = pump(1000);
    source.write(Buffer.alloc(10));
    await tick();
    expect(() => p.ack(11)).toThrow(ProtocolError);
  });

  test('once stopped it sends nothing more and leaves the source paused', async () => {
    const { source, frames, p } = pump(1000);
    p.stop();
    source.end(Buffer.alloc(10));
    await tick();
    expect(frames).toEqual([]);
    expect(source.isPaused()).toBe(true);
  });
});
