// Loaded (--import) into every unit test file by run-tests.js: a unit test that opens a network
// socket (listen, connect, fetch, a database or MQTT client…), or starts a child process or a worker
// thread, fails with a sentence saying so. Such a test belongs in test/integration.
import childProcess from 'node:child_process';
import dgram from 'node:dgram';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import workerThreads from 'node:worker_threads';

function refuse(what) {
  throw new Error(
    `unit tests must not ${what}: this test belongs in test/integration (see scripts/run-tests.js)`,
  );
}

// Servers on a port, a pipe or an inherited handle are all refused (HTTP, TLS and MQTT servers too).
net.Server.prototype.listen = function listen() {
  return refuse('listen on a socket (net.Server.listen)');
};
net.Socket.prototype.connect = function connect() {
  return refuse('open a network connection (net.Socket.connect: fetch, HTTP, PostgreSQL, MQTT…)');
};
dgram.Socket.prototype.bind = function bind() {
  return refuse('bind a UDP socket');
};
dgram.Socket.prototype.send = function send() {
  return refuse('send UDP datagrams');
};

// tsx compiles TypeScript with esbuild, which may run as a child process or a worker thread of its
// own: those are allowed.
const isEsbuild = (file) => /[\\/@]esbuild([\\/]|$)/.test(String(file));
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
  const original = childProcess[name];
  childProcess[name] = function guarded(file, ...rest) {
    if (isEsbuild(file)) return original.call(this, file, ...rest);
    return refuse(`start a child process (child_process.${name} ${String(file).slice(0, 60)})`);
  };
}
const OriginalWorker = workerThreads.Worker;
workerThreads.Worker = class GuardedWorker extends OriginalWorker {
  constructor(file, ...rest) {
    if (!isEsbuild(file)) refuse('start a worker thread');
    super(file, ...rest);
  }
};
globalThis.fetch = () => refuse('fetch over the network');
syncBuiltinESMExports();
