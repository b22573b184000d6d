/** The domain records the store keeps. One word for one thing across api/, workflows/, activities/. */

export type Role = 'admin' | 'contributor';
export type AttributeValue = string | number | boolean | null;
export type Attributes = Record<string, AttributeValue>;

export interface Profile {
  id: string;
  attributes: Attributes;
  updatedAt: string;
}

export interface Segment {
  id: string;
  name: string;
  /** A segment rule, validated before it is stored (its grammar: store/rules.ts). */
  rule: unknown;
  memberCount: number | null;
  refreshedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type UsableBy = 'admins' | 'admins-and-contributors';
export type ConnectionStatus = 'pending-authorization' | 'connected' | 'needs-reauthorization';

export interface Connection {
  id: string;
  displayName: string;
  usableBy: UsableBy;
  status: ConnectionStatus;
  /** The Constant Contact account (encoded_account_id) it is authorized for; null before the first authorization. */
  accountId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Decrypted tokens; only the Constant Contact client and the OAuth callback ever hold them. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  /** Epoch milliseconds, from the access token's `exp` claim (or expires_in). */
  expiresAt: number;
}

export interface Mapping {
  email: string;
  firstName?: string;
  lastName?: string;
  /** Constant Contact custom field name → profile attribute name. */
  customFields?: Record<string, string>;
}

export type Schedule =
  | { mode: 'with-refresh' }
  | { mode: 'off' }
  | { mode: 'custom'; cron: string; timezone: string };

export type SyncMode = 'upsert' | 'mirror';

export interface Export {
  id: string;
  name: string;
  connectionId: string | null;
  listId: string;
  mapping: Mapping;
  segmentIds: string[];
  syncMode: SyncMode;
  maxRemovalPercent: number;
  schedule: Schedule;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
export type RunTrigger = 'on-demand' | 'schedule' | 'refresh';
export type RunPhase =
  | 'validating'
  | 'snapshotting'
  | 'uploading'
  | 'waiting-for-import'
  | 'awaiting-approval'
  | 'removing'
  | 'waiting-for-quota'
  | 'finalizing'
  | 'done';

export interface RunCounts {
  segmentProfiles: number;
  sent: number;
  imported: number;
  rejected: number;
  duplicates: number;
  unsubscribed: number;
  removed: number;
  constantContactErrors: number;
  /** Of `sent`: contacts the ledger did not have (or had removed), and contacts whose values changed. */
  added: number;
  updated: number;
  /** Delivered before with the same values and still on the list: not sent. */
  unchanged: number;
  /** Deliberately not sent (see suppressedByReason). */
  suppressed: number;
  suppressedByReason: { left_list: number };
  plannedRemovals?: number;
}

export const emptyCounts = (): RunCounts => ({
  segmentProfiles: 0,
  sent: 0,
  imported: 0,
  rejected: 0,
  duplicates: 0,
  unsubscribed: 0,
  removed: 0,
  constantContactErrors: 0,
  added: 0,
  updated: 0,
  unchanged: 0,
  suppressed: 0,
  suppressedByReason: { left_list: 0 },
});

/** A dry run's answer: what the real run would do now, and what it would spend. */
export interface RunPlan {
  toAdd: number;
  toUpdate: number;
  unchanged: number;
  suppressed: number;
  suppressedByReason: { left_list: number };
  rejected: number;
  duplicates: number;
  toRemove: number;
  needsApproval: boolean;
  requests: { imports: number; statusReads: number; removals: number; total: number };
  /** Constant Contact requests left today for the connection (null when unknown). */
  dailyQuotaLeft: number | null;
}

/** How a run was asked to run (POST /v1/exports/{id}/runs). */
export interface RunOptions {
  /** Send every profile whatever the ledger says (never a contact who left the list). */
  fullResync: boolean;
  /** Read, snapshot and classify only; answer a plan; post and change nothing. */
  dryRun: boolean;
}

export interface RunError {
  code: string;
  message: string;
}

export interface Run {
  id: string;
  exportId: string;
  status: RunStatus;
  trigger: RunTrigger;
  startedAt: string;
  finishedAt: string | null;
  workflowId: string;
  phase: RunPhase;
  chunksDone: number;
  chunksTotal: number;
  counts: RunCounts;
  error: RunError | null;
  dryRun: boolean;
  fullResync: boolean;
  plan: RunPlan | null;
}

export type RejectReason = 'missing_email' | 'invalid_email' | 'email_too_long' | 'duplicate_email';

export interface Reject {
  snapshotSeq: number;
  profileId: string;
  email: string | null;
  reason: RejectReason;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
