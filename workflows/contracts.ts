/**
 * The contract of the export-run workflow, shared by the API (which starts it), the schedules
 * (which start it too) and the workflow itself. Deterministic and free of Node modules: workflows
 * import it.
 *
 * Everything here is ids, cursors and counts (invariant 1): never a profile, an email, a name or a token.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Mapping, RunCounts, RunError, RunPhase, RunStatus, RunTrigger, SyncMode } from '../store/types';

export const EXPORT_RUN_WORKFLOW_TYPE = 'exportRun';

/** Readable, unique per run: `export-run-<exportId>-<runId>`. */
export const exportRunWorkflowId = (exportId: string, runId: string): string => `export-run-${exportId}-${runId}`;

/** Search attributes every run carries (registered as Keyword on the server; scripts/temporal.js). */
export const runSearchAttributes = {
  exportId: defineSearchAttributeKey('ExportId', SearchAttributeType.KEYWORD),
  connectionId: defineSearchAttributeKey('ConnectionId', SearchAttributeType.KEYWORD),
  runTrigger: defineSearchAttributeKey('RunTrigger', SearchAttributeType.KEYWORD),
  runStatus: defineSearchAttributeKey('RunStatus', SearchAttributeType.KEYWORD),
} as const;

/** Where the next chunk starts in the run's snapshot. Sequence numbers only. */
export interface UploadCursor {
  /** The last snapshot seq already covered by a chunk (-1 before the first). */
  afterSeq: number;
  /** The seq of the last contact accepted for upload: its email is the one a duplicate would repeat. */
  lastAcceptedSeq: number | null;
}

/** What validation found out, carried through the run (ids and settings, no profile data). */
export interface RunTarget {
  exportName: string;
  connectionId: string;
  listId: string;
  /** Attribute names and Constant Contact field names: configuration, no profile data. */
  mapping: Mapping;
  syncMode: SyncMode;
  maxRemovalPercent: number;
  segmentIds: string[];
  customFields: number;
}

/** Where a run is, carried across continue-as-new. */
export interface ExportRunProgress {
  target: RunTarget;
  segmentProfiles: number;
  chunksEstimate: number;
  /** Next chunk to upload and where it starts; `uploadsDone` when the snapshot is used up. */
  nextChunkNo: number;
  cursor: UploadCursor;
  uploadsDone: boolean;
  /** Next chunk whose import to poll. */
  nextPollChunkNo: number;
  /** After the imports: mirror mode (issue 8) and finalizing. */
  stage: 'transfer' | 'after-imports';
  /** Imports that ended failed, cancelled or timed out. */
  failedImports: number;
}

export interface ExportRunInput {
  runId: string;
  exportId: string;
  trigger: RunTrigger;
  /** Present after continue-as-new: where the previous execution stopped. */
  resume?: ExportRunProgress;
  /** Chunks uploaded per workflow execution before it continues as new (default 50). */
  chunksPerExecution?: number;
}

export interface ExportRunResult {
  runId: string;
  status: Exclude<RunStatus, 'running' | 'skipped'>;
  counts: RunCounts;
  error: RunError | null;
}

// ---------------------------------------------------------------- activity contracts

export interface UploadChunkInput {
  runId: string;
  chunkNo: number;
  cursor: UploadCursor;
  connectionId: string;
  listId: string;
  mapping: Mapping;
}

export interface SnapshotInput {
  runId: string;
  segmentIds: string[];
  mapping: Mapping;
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

export interface PollImportInput {
  runId: string;
  chunkNo: number;
  connectionId: string;
  /** Every chunk is uploaded: the run is only waiting for imports now (phase waiting-for-import). */
  uploadsDone: boolean;
}

export interface PollImportResult {
  chunkNo: number;
  finished: boolean;
  /** Constant Contact's activity state (`empty` when the chunk posted nothing). */
  state: string;
  percentDone: number;
  /** The import ended failed, cancelled or timed out. */
  failed: boolean;
}

export interface SnapshotResult {
  segmentProfiles: number;
  chunksEstimate: number;
}

export interface FinalizeInput {
  runId: string;
  status: Exclude<RunStatus, 'running' | 'skipped'>;
  error: RunError | null;
}

export interface RecordPhaseInput {
  runId: string;
  phase: RunPhase;
}

/** ApplicationFailure types the workflow acts on (besides failing the run with the type as error code). */
export const DAILY_QUOTA_EXHAUSTED = 'daily_quota_exhausted';
