// Carriers: the vsock connections that carry one TCP connection each
// (docs/protocol.md, "Ports and links"). Opening one to a guest port is a
// session: hello, FORWARD, DONE. A guest's link dial arrives on the link
// port as DIAL, answered with DONE. After the DONE both ends speak
// StreamData/StreamFin/StreamReset frames (relay.ts).
import type { Socket } from 'node:net';
import { connectSession, type ExecEndpoint } from '../session/connect.js';
import { decodeDone, decodeError, encodeDone } from '../session/messages.js';
import {
  Field,
  FRAME_HEADER_BYTES,
  MessageType,
  PROTOCOL_VERSION,
  ProtocolError,
  RecordReader,
  decodeHello,
  describeType,
  encodeFrame,
  encodeHello,
  encodeRecord,
  type Frame,
} from '../session/protocol.js';

/** Handshake frames are small: anything bigger is not ours. */
const MAX_HANDSHAKE_FRAME = 64 * 1024;

/**
 * Reads one frame from a socket in paused mode; the bytes after it are put
 * back, so that the stream that follows starts exactly where the handshake
 * ended. Null when the socket ends first.
 */
export function readOneFrame(socket: Socket, what: string): Promise<Frame | null> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (err: Error | null, frame: Frame | null) => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      if (err) reject(err);
      else resolve(frame);
    };
    const onEnd = () => finish(null, null);
    const onError = (e: Error) => finish(new ProtocolError(`${what}: ${e.message}`), null);
    const onReadable = () => {
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        if (buf.length < FRAME_HEADER_BYTES) continue;
        const len = buf.readUInt32BE(1);
        if (len > MAX_HANDSHAKE_FRAME) return finish(new ProtocolError(`${what}: a ${describeType(buf[0]!)} frame of ${len} bytes where a short handshake was expected`), null);
        if (buf.length < FRAME_HEADER_BYTES + len) continue;
        const rest = buf.subarray(FRAME_HEADER_BYTES + len);
        if (rest.length > 0) socket.unshift(rest);
        return finish(null, { type: buf[0]!, payload: buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len) });
      }
    };
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    onReadable();
  });
}

/** A guest's DONE (or ERROR) answer to a request: null when it succeeded, else its message. */
function refusal(frame: Frame | null, what: string): string | null {
  if (!frame) return `${what}: the guest closed the connection without an answer`;
  if (frame.type === MessageType.Done) return decodeDone(frame.payload).error;
  if (frame.type === MessageType.Error) return decodeError(frame.payload).message;
  return `${what}: the guest answered with ${describeType(frame.type)} instead of DONE`;
}

/** A refused carrier (nothing listens on the guest port, the guest is gone): the TCP client is reset. */
export class CarrierRefused extends Error {
  override name = 'CarrierRefused';
}

/** Opens a session to the guest and asks for a request answered by DONE; the socket then carries the stream. */
async function openSessionRequest(ep: ExecEndpoint, request: Buffer, what: string, signal?: AbortSignal): Promise<Socket> {
  let socket: Socket;
  try {
    socket = await connectSession(ep, signal);
  } catch (err) {
    throw new CarrierRefused((err as Error).message);
  }
  try {
    const hello = await readOneFrame(socket, what);
    const version = hello?.type === MessageType.Hello ? decodeHello(hello.payload)?.version : undefined;
    if (version !== PROTOCOL_VERSION) throw new CarrierRefused(`${what}: guest init did not greet with protocol version ${PROTOCOL_VERSION}`);
    socket.write(encodeHello());
    socket.write(request);
    const why = refusal(await readOneFrame(socket, what), what);
    if (why !== null) throw new CarrierRefused(why);
    return socket;
  } catch (err) {
    socket.destroy();
    throw err instanceof CarrierRefused ? err : new CarrierRefused((err as Error).message);
  }
}

/** A carrier to 127.0.0.1:port inside the VM; rejects with CarrierRefused when nothing listens there. */
export function openForward(ep: ExecEndpoint, port: number, signal?: AbortSignal): Promise<Socket> {
  return openSessionRequest(ep, encodeFrame(MessageType.Forward, encodeRecord([[Field.Forward.port, port]])), `forwarding to guest port ${port}`, signal);
}

/**
 * Sets up a link inside the VM (NAME on ADDRESS, listening on PORTS); the
 * returned socket is the link's life: closing it ends the link.
 */
export function openLink(ep: ExecEndpoint, link: { name: string; address: string; ports: number[] }, signal?: AbortSignal): Promise<Socket> {
  const fields: [number, string | number][] = [
    [Field.Link.name, link.name],
    [Field.Link.address, link.address],
    ...link.ports.map((p): [number, number] => [Field.Link.port, p]),
  ];
  return openSessionRequest(ep, encodeFrame(MessageType.Link, encodeRecord(fields)), `setting up the link ${link.name}`, signal);
}

/** A guest's DIAL on the link port: which linked name and port it wants. */
export async function readDial(socket: Socket): Promise<{ name: string; port: number }> {
  const frame = await readOneFrame(socket, 'a linked connection from the guest');
  if (!frame || frame.type !== MessageType.Dial) throw new ProtocolError(`a linked connection from the guest began with ${frame ? describeType(frame.type) : 'nothing'}, not DIAL`);
  const r = new RecordReader(frame.payload, 'DIAL');
  return { name: r.requireString(Field.Dial.name), port: r.requireU64(Field.Dial.port) };
}

/** Answers a DIAL: the stream follows, or the guest is told why not and the carrier ends. */
export function answerDial(socket: Socket, error: string | null): void {
  const done = encodeDone(error === null ? {} : { error });
  if (error === null) socket.write(done);
  else socket.end(done);
}
