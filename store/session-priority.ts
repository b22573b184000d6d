import fs from 'node:fs';
import type net from 'node:net';
import type pg from 'pg';
import { lowerAutogroup } from '../common/priority';

/**
 * PostgreSQL starts each connection's backend in a session of its own, and with Linux's autogroup
 * the cores are shared between sessions before nice counts: on a machine that runs the database
 * beside the API, a backend busy with a refresh, an import or a run's snapshot weighs as much as
 * the whole API process, and the reads' backends wait behind it. A pool whose connections do
 * background work lowers the session of each backend it opens by `by` nice levels, as the worker
 * lowers its own.
 *
 * It does so only where it can tell the backend is its own: the connection is to a loopback address
 * and the process of that pid on this machine is a PostgreSQL backend whose title names this
 * connection's client port. Another host, a container (its pids are not this machine's) or a Unix
 * socket leave the backend as it is, as does a process without the right to change it (root or the
 * database's own user may). Resolves when done or when there is nothing to do.
 */
export async function lowerBackendSession(client: pg.ClientBase, by: number): Promise<void> {
  if (by <= 0) return;
  const { processID: pid, connection } = client as unknown as { processID?: number; connection?: { stream?: net.Socket } };
  const socket = connection?.stream;
  if (!pid || !socket?.localPort || !isLoopback(socket.remoteAddress)) return;
  let title: string;
  try {
    title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // no /proc, or no such process here
  }
  if (isBackendOf(title, socket.localAddress, socket.localPort)) await lowerAutogroup(pid, by);
}

/** Whether a process title (`/proc/<pid>/cmdline`) is that of the PostgreSQL backend serving the client at `address`:`port`. */
export function isBackendOf(title: string, address: string | undefined, port: number): boolean {
  return title.startsWith('postgres:') && address !== undefined && title.includes(` ${address}(${port})`);
}

function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));
}
