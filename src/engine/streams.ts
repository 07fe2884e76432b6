// Writing guest output to a consumer's stream without buffering it in
// memory: a slow consumer holds the guest instead (see RunEvents.stdout).

/** Writes a chunk; resolves when the stream can take more. */
export function writeWithBackpressure(stream: NodeJS.WritableStream, chunk: Buffer): void | Promise<void> {
  if (stream.write(chunk)) return;
  return drained(stream);
}

/** Resolves when a stream drains, or can never drain (error, close). */
export function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}
