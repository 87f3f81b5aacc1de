/**
 * The baseline of bench/pilot-api.ts: a bare node:http server that reads a JSON body, parses it and
 * answers a DJI envelope — what any handler costs at least on this machine, without framework,
 * authentication, validation, database or storage. Runs in its own process, so that its CPU time per
 * request (from /proc) is its own: the floor Skyvault's is compared with. Prints its port.
 */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : {};
    const payload = JSON.stringify({ code: 0, message: 'success', data: { echo: typeof body } });
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
      .end(payload);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
