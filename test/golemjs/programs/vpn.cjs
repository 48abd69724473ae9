// VPN: a network with two rentals on two providers (manyOf with `network`); VM A reaches a TCP server in VM B
// over the network, and the requestor reaches another port of VM B through golem-js's TcpProxy.
const { once } = require('node:events');
const net = require('node:net');
const { order, run } = require('./common.cjs');

/**
 * Sends `payload` through the local proxy port and collects the echo. The socket is not half-closed: golem-js's
 * TcpProxy closes the WebSocket when its client ends, before the echo could come back.
 */
function exchange(port, payload) {
  return new Promise((resolve) => {
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString());
    };
    const timer = setTimeout(done, 10_000);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).length >= Buffer.byteLength(payload)) done();
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

run(async (glm) => {
  const network = await glm.createNetwork({ ip: '192.168.7.0/24' });
  const pool = await glm.manyOf({ poolSize: { min: 2, max: 2 }, order: { ...order(), network } });
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  const exeA = await a.getExeUnit();
  const exeB = await b.getExeUnit();
  const ipB = exeB.getIp();

  // Echo servers left running in VM B's background: 7000 for VM A, 7001 for the proxy (busybox nc).
  const servers = await exeB.run('/bin/sh', [
    '-c',
    'nc -l -p 7000 -e /bin/cat </dev/null >/dev/null 2>&1 & ' +
      'nc -l -p 7001 -e /bin/cat </dev/null >/dev/null 2>&1 & true',
  ]);
  if (servers.result !== 'Ok') throw new Error(`servers did not start: ${servers.stderr}`);

  // Retried until B's listener is up (a refused connect does not use it up).
  const fromA = await exeA.run('/bin/sh', [
    '-c',
    `for i in $(seq 30); do out=$(echo hello-from-A | nc -w 3 ${ipB} 7000); ` +
      '[ -n "$out" ] && echo "$out" && exit 0; sleep 1; done; exit 1',
  ]);

  const proxy = exeB.createTcpProxy(7001);
  const port = await freePort();
  await proxy.listen(port);
  let proxied = '';
  try {
    for (let attempt = 0; attempt < 10 && proxied === ''; attempt++) {
      proxied = await exchange(port, 'hello-through-proxy\n');
      if (proxied === '') await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await proxy.close();
  }

  await pool.release(a);
  await pool.release(b);
  await pool.drainAndClear();
  await glm.destroyNetwork(network);
  return {
    providers: new Set([exeA.provider.id, exeB.provider.id]).size,
    ips: [exeA.getIp(), ipB].sort(),
    fromA: fromA.stdout,
    proxied,
  };
});
