/** Local TCP helpers for tests of TCP carried elsewhere (the VPN's TcpProxy): a free port, an echo exchange. */
import { type AddressInfo, connect, createServer } from 'node:net';

/** A port nothing listens on now (for a listener the code under test opens itself, e.g. golem-js's TcpProxy). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Sends `payload` to a local port and collects the answer until as many bytes came back, the end, or 60 s. */
export function exchange(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, 60_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) done();
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}
