/**
 * The one-way delivery of bench/dock-events.ts (information; its baseline is bench/mqtt-responder-server.ts)
 * and the baseline of bench/log-progress.ts: a standalone aedes 2 broker (the software Skyvault embeds), with
 * its defaults (in-memory persistence, no authentication, no ACL), on a loopback port. Prints
 * {"port": N} once listening, then serves until killed.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer((socket) => broker.handle(socket));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
