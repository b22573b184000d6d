import type { Store } from '../store';
import type { RunRecord } from '../store/runs';
import type { Connection, Export, Role, SyncMode } from '../store/types';
import { ApiError, notFound } from './errors';
import { DEFAULT_MAX_REMOVAL_PERCENT } from './schemas/exports';

/**
 * Who may see and use what, for every route. Admins see and use everything. Contributors use the
 * connections shared with them (usableBy `admins-and-contributors`), and the exports and runs on
 * those; anything else answers 404 exactly as if it did not exist, so its existence is not
 * disclosed. Roles per route (admin-only writes) are declared on the routes themselves.
 */

type Deps = { store: Store };

/** Whether the role may use the connection (configure exports on it, read its lists). */
export function canUse(connection: Connection, role: Role | undefined): boolean {
  return role === 'admin' || (role === 'contributor' && connection.usableBy === 'admins-and-contributors');
}

/** The connection when the caller may see it; 404 `not_found` otherwise. */
export async function visibleConnection(deps: Deps, id: string, role: Role | undefined): Promise<Connection> {
  const connection = await deps.store.connections.get(id);
  if (!connection || !canUse(connection, role)) throw notFound('connection');
  return connection;
}

/** A connection named in a body: 404 `connection_not_found` when absent or not usable by the caller. */
export async function usableConnection(deps: Deps, id: string, role: Role | undefined): Promise<Connection> {
  const connection = await deps.store.connections.get(id);
  if (!connection || !canUse(connection, role)) {
    throw new ApiError(404, 'connection_not_found', `connection ${id} does not exist or is not shared with you`);
  }
  return connection;
}

/**
 * The export when the caller may act on it: admins always; contributors only on a connection shared
 * with them (a detached export has none). 404 otherwise. Deleted exports only for reading history.
 */
export async function visibleExport(deps: Deps, id: string, role: Role | undefined, options: { includeDeleted?: boolean } = {}): Promise<Export> {
  const exp = await deps.store.exports.get(id, { includeDeleted: options.includeDeleted });
  if (!exp) throw notFound('export');
  if (role !== 'admin') {
    const connection = exp.connectionId ? await deps.store.connections.get(exp.connectionId) : undefined;
    if (!connection || !canUse(connection, role)) throw notFound('export');
  }
  return exp;
}

/** The run when the caller may see its export (also a deleted one: run history stays readable). */
export async function visibleRun(deps: Deps, id: string, role: Role | undefined): Promise<RunRecord> {
  const run = await deps.store.runs.get(id);
  if (!run) throw notFound('run');
  if (role !== 'admin') {
    try {
      await visibleExport(deps, run.exportId, role, { includeDeleted: true });
    } catch {
      throw notFound('run');
    }
  }
  return run;
}

/**
 * Mirror mode removes contacts from a shared account's list, and the removal guard decides when a
 * person must approve: both are admin decisions. A contributor may keep what an admin set, but
 * not switch an export to mirror mode nor set the guard above the default (403 `forbidden`
 * naming the field).
 */
export function assertMayChangeRemovalGuard(
  role: Role | undefined,
  change: { syncMode?: SyncMode; maxRemovalPercent?: number },
  current?: Pick<Export, 'syncMode' | 'maxRemovalPercent'>,
): void {
  if (role === 'admin') return;
  if (change.syncMode === 'mirror' && current?.syncMode !== 'mirror') {
    throw adminDecision('syncMode', 'only an admin may switch an export to mirror mode (it removes contacts from the list)');
  }
  const percent = change.maxRemovalPercent;
  if (percent !== undefined && percent > DEFAULT_MAX_REMOVAL_PERCENT && percent !== current?.maxRemovalPercent) {
    throw adminDecision('maxRemovalPercent', `only an admin may set maxRemovalPercent above ${DEFAULT_MAX_REMOVAL_PERCENT}`);
  }
}

const adminDecision = (field: string, message: string) => new ApiError(403, 'forbidden', message, [{ path: ['body', field], message }]);
