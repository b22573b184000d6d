/**
 * The inputs and results of the export run's activities (activities/exportRun.ts), which the
 * workflow imports as types. Ids, cursors, settings and counts only: never a profile, an email, a
 * name or a token.
 */
import type { Mapping, RunCounts, RunError, RunPhase, RunStatus, SyncMode } from '../store/types';

/** Where the next chunk starts in the run's snapshot. Sequence numbers only. */
export interface UploadCursor {
  /** The last snapshot seq already covered by a chunk (-1 before the first). */
  afterSeq: number;
  /** The seq of the last contact accepted for upload: its email is the one a duplicate would repeat. */
  lastAcceptedSeq: number | null;
}

/** What validation found out, carried through the run (ids and settings, no profile data). */
export interface RunTarget {
  exportId: string;
  exportName: string;
  connectionId: string;
  listId: string;
  /** Attribute names and Constant Contact field names: configuration, no profile data. */
  mapping: Mapping;
  syncMode: SyncMode;
  maxRemovalPercent: number;
  segmentIds: string[];
  customFields: number;
  /** How the run was asked to run (kept on the run's record). */
  dryRun: boolean;
  fullResync: boolean;
  /**
   * The export's ledger holds contacts of this list. When it holds none, every contact is new
   * (none can be unchanged or have left), so the uploads need not wait for the list read.
   * Absent in runs validated by an earlier release: taken as true.
   */
  ledgerKnowsList?: boolean;
}

export interface SnapshotInput {
  runId: string;
  segmentIds: string[];
  mapping: Mapping;
}

export interface SnapshotResult {
  segmentProfiles: number;
  chunksEstimate: number;
}

export interface UploadChunkInput {
  runId: string;
  chunkNo: number;
  cursor: UploadCursor;
  connectionId: string;
  exportId: string;
  listId: string;
  mapping: Mapping;
  /** Send unchanged contacts too (never one who left the list). */
  fullResync: boolean;
}

export interface UploadChunkResult {
  chunkNo: number;
  /** Contacts in the import (0: nothing to post, every row was rejected). */
  contacts: number;
  rejected: number;
  duplicates: number;
  /** An import was posted for this chunk (now or by an earlier attempt). */
  posted: boolean;
  nextCursor: UploadCursor;
  /** No snapshot rows after this chunk. */
  done: boolean;
}

export interface PollImportsInput {
  runId: string;
  connectionId: string;
  /** The ledger the chunks' contacts enter when their imports complete. */
  exportId: string;
  listId: string;
  /** Every chunk is uploaded: the run is only waiting for imports now (phase waiting-for-import). */
  uploadsDone: boolean;
}

/** The run's imports so far (chunks that posted nothing are not imports). */
export interface PollImportsResult {
  posted: number;
  /** Imports that reached a terminal state. */
  finished: number;
  /** Of those, imports that ended failed, cancelled or timed out. */
  failed: number;
}

export type FinalStatus = Exclude<RunStatus, 'running' | 'skipped'>;

export interface FinalizeInput {
  runId: string;
  status: FinalStatus;
  error: RunError | null;
}

/** The run as it ended: what the export-run workflow answers. */
export interface FinalizeResult {
  runId: string;
  status: FinalStatus;
  counts: RunCounts;
  error: RunError | null;
}

export interface RecordPhaseInput {
  runId: string;
  phase: RunPhase;
}

/** A dry run's classification of its whole snapshot: what the real run would do. */
export interface PlanRunInput {
  runId: string;
  connectionId: string;
  exportId: string;
  listId: string;
  mapping: Mapping;
  fullResync: boolean;
  syncMode: SyncMode;
  maxRemovalPercent: number;
}
