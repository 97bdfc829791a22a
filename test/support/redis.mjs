// A real redis-server for the queue tests: Debian's package, started on 127.0.0.1 at a free port with
// no persistence. Missing, it is installed with apt-get when the tests run as root (as CI does);
// otherwise the caller reports itself skipped with the install command, never silently.
import { spawn, spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './helpers.mjs';

const INSTALL = 'apt-get install -y redis-server';

const which = (cmd) => (spawnSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout ?? '').trim();

/** The redis-server binary, installing it as root when absent; null with the reason otherwise. */
export function findRedisServer() {
  const found = which('redis-server');
  if (found) return { path: found };
  if (process.getuid?.() !== 0 || !which('apt-get'))
    return { path: null, reason: `redis-server is not installed; install it with: sudo ${INSTALL}` };
  const quiet = { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600000 };
  if (spawnSync('/bin/sh', ['-c', INSTALL], quiet).status !== 0)
    spawnSync('/bin/sh', ['-c', `apt-get update && ${INSTALL}`], quiet);
  const installed = which('redis-server');
  return installed
    ? { path: installed }
    : { path: null, reason: `redis-server is not installed and \`${INSTALL}\` failed` };
}

function answersPing(port) {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port }, () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      sock.destroy();
      resolve(String(d).startsWith('+PONG'));
    });
    sock.on('error', () => resolve(false));
  });
}

/** Starts redis-server; resolves { url, port, stop() } once it answers PING. */
export async function startRedis(path) {
  const port = await freePort();
  const child = spawn(
    path,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (d) => {
    log += d;
  });
  child.stderr.on('data', (d) => {
    log += d;
  });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${log}`);
    if (await answersPing(port)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        stop: () =>
          new Promise((r) => {
            if (child.exitCode !== null) r();
            else {
              child.on('exit', r);
              child.kill('SIGTERM');
            }
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer PING on port ${port} within 10 s: ${log}`);
}
