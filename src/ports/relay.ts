// The host's end of a relayed TCP connection: bytes from the TCP socket go
// to the carrier as StreamData frames, its end as StreamFin, a reset as
// StreamReset; the guest's frames come back the same way. Flow control is
// the sockets' own: a side that cannot take more pauses the other, so at
// most a chunk or two per direction sits in this process. A carrier that
// ends without StreamFin or StreamReset (the VM stopped) resets the TCP
// connection: the client sees an error, never a hang.
import type { Socket } from 'node:net';
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAME_PAYLOAD, MessageType } from '../session/protocol.js';

function header(type: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h[0] = type;
  h.writeUInt32BE(length, 1);
  return h;
}

/** Relays until both sockets have closed. */
export function relay(tcp: Socket, carrier: Socket): Promise<void> {
  const decoder = new FrameDecoder();
  let gotFin = false; // the guest's side will send no more
  let sentFin = false; // ours neither
  let over = false; // reset either way, or the carrier broke

  const abort = () => {
    if (over) return;
    over = true;
    tcp.resetAndDestroy();
    carrier.destroy();
  };

  tcp.on('data', (chunk: Buffer) => {
    carrier.cork();
    for (let at = 0; at < chunk.length; at += MAX_FRAME_PAYLOAD) {
      const part = chunk.subarray(at, at + MAX_FRAME_PAYLOAD);
      carrier.write(header(MessageType.StreamData, part.length));
      carrier.write(part);
    }
    carrier.uncork();
    if (carrier.writableNeedDrain) tcp.pause();
  });
  carrier.on('drain', () => tcp.resume());
  tcp.on('end', () => {
    sentFin = true;
    if (gotFin) carrier.end(header(MessageType.StreamFin, 0));
    else carrier.write(header(MessageType.StreamFin, 0));
  });
  tcp.on('error', () => {
    // The client reset (or the socket broke): the guest's side is reset too.
    if (over) return;
    over = true;
    carrier.end(header(MessageType.StreamReset, 0));
  });

  carrier.on('data', (chunk: Buffer) => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch {
      return abort();
    }
    for (const f of frames) {
      if (over) return;
      if (f.type === MessageType.StreamData && !gotFin) {
        if (!tcp.write(f.payload)) carrier.pause();
      } else if (f.type === MessageType.StreamFin && !gotFin && f.payload.length === 0) {
        gotFin = true;
        tcp.end();
        if (sentFin) carrier.end();
      } else {
        // StreamReset, or anything that breaks the stream.
        return abort();
      }
    }
  });
  tcp.on('drain', () => carrier.resume());
  const carrierGone = () => {
    if (!gotFin || !sentFin) abort();
  };
  carrier.on('end', carrierGone);
  carrier.on('error', abort);
  carrier.on('close', carrierGone);

  const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  return Promise.all([closed(tcp), closed(carrier)]).then(() => undefined);
}

/**
 * Joins two carriers that already speak the stream frames (a guest's link
 * dial and the forward to the linked VM): bytes pass through untouched,
 * both guests check them. When one ends, the other is ended after what is
 * in flight; a broken one breaks the other.
 */
export function splice(a: Socket, b: Socket): Promise<void> {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  return Promise.all([closed(a), closed(b)]).then(() => undefined);
}
