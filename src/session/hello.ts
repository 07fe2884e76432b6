// The hello exchange of a pulled conversation (service boot connection,
// PUT/GET/LIST sessions): guest init speaks first; a guest of another
// version is told why and refused, as a run does.
import type { Duplex } from 'node:stream';
import { decodeError, encodeError } from './messages.js';
import { MessageType, PROTOCOL_VERSION, ProtocolError, decodeHello, describeType, encodeHello } from './protocol.js';
import { GuestError, ProtocolVersionError } from './session.js';
import type { FrameSource } from './frame-source.js';

/** Reads guest init's hello and answers it; returns the guest's agent string. */
export async function exchangeHello(socket: Duplex, frames: FrameSource): Promise<string> {
  const frame = await frames.next();
  if (!frame) throw new ProtocolError('guest init closed the connection before its hello: the VM may have stopped');
  if (frame.type === MessageType.Error) {
    const e = decodeError(frame.payload);
    throw new GuestError(e.stage, e.message);
  }
  const hello = frame.type === MessageType.Hello ? decodeHello(frame.payload) : null;
  if (!hello) {
    throw new ProtocolError(`the guest's first message is ${describeType(frame.type)}, not a vmstep hello: the program on the other end does not speak the vmstep protocol`);
  }
  if (hello.version !== PROTOCOL_VERSION) {
    socket.end(encodeError('hello', `protocol version mismatch: the host speaks version ${PROTOCOL_VERSION}, guest init speaks version ${hello.version}`));
    throw new ProtocolVersionError(hello.version, PROTOCOL_VERSION);
  }
  socket.write(encodeHello());
  return hello.agent;
}
