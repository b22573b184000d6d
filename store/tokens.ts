import type { SecretBox } from '../common/secrets';
import type { Db } from './db';
import type { ConnectionStatus, TokenSet } from './types';

/** A connection's decrypted tokens with the generation they belong to. */
export interface StoredTokens {
  tokens: TokenSet;
  /** Increases by one at every save (authorization or refresh): tells a waiting process that someone refreshed. */
  generation: number;
  status: ConnectionStatus;
}

interface TokenRow {
  tokens: string | null;
  token_generation: number;
  status: ConnectionStatus;
}

/**
 * The OAuth tokens of a connection: the `tokens` (AES-256-GCM ciphertext bound to the connection id),
 * `token_generation`, `refresh_lease_until`, `refresh_lease_owner` and `status` columns of the
 * connections row. The rest of the row belongs to ConnectionRepository.
 *
 * Refreshing is single-writer across every process and machine sharing the store: a process must
 * win the refresh lease (one conditional UPDATE) before it calls the token endpoint, and it persists
 * the new tokens (releasing the lease) before anyone uses them. With rotating refresh tokens, two
 * refreshes racing, or new tokens used before they are saved, would lock the connection out.
 */
export class TokenRepository {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}

  /** The connection's tokens, or undefined when the connection does not exist or holds no tokens. */
  async read(connectionId: string): Promise<StoredTokens | undefined> {
    const row = await this.db.get<TokenRow>('SELECT tokens, token_generation, status FROM connections WHERE id = ?', [connectionId]);
    if (!row || !row.tokens) return undefined;
    return { tokens: this.decrypt(connectionId, row.tokens), generation: Number(row.token_generation), status: row.status };
  }

  /**
   * Saves the tokens of a new authorization (the OAuth callback): the connection becomes `connected`,
   * any refresh lease is dropped. Returns the new generation; throws when the connection does not exist.
   */
  async save(connectionId: string, tokens: TokenSet): Promise<number> {
    const saved = await this.saveAuthorization(connectionId, tokens);
    if (saved === 'account_changed') throw new Error('unreachable: no account given');
    return saved;
  }

  /**
   * `save`, for the Constant Contact account the tokens belong to: the connection is (or stays)
   * authorized for that account. When it was authorized for another one and `allowChange` is not
   * set, nothing is saved: `account_changed`.
   */
  async saveAuthorization(connectionId: string, tokens: TokenSet, account?: { accountId: string; allowChange: boolean }): Promise<number | 'account_changed'> {
    const accountId = account?.accountId ?? null;
    const row = await this.db.get<{ token_generation: number }>(
      `UPDATE connections
          SET tokens = ?, token_generation = token_generation + 1, status = 'connected',
              refresh_lease_until = 0, refresh_lease_owner = NULL, updated_at = ?,
              account_id = COALESCE(CAST(? AS TEXT), account_id)
        WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR account_id IS NULL OR account_id = CAST(? AS TEXT) OR CAST(? AS INTEGER) = 1)
        RETURNING token_generation`,
      [this.encrypt(connectionId, tokens), new Date().toISOString(), accountId, connectionId, accountId, accountId, account?.allowChange ? 1 : 0],
    );
    if (row) return Number(row.token_generation);
    if (account && (await this.db.get('SELECT id FROM connections WHERE id = ?', [connectionId]))) return 'account_changed';
    throw new Error(`connection ${connectionId} not found`);
  }

  /**
   * Takes the refresh lease when it is free or expired (or already ours): exactly one caller across all
   * processes wins. Only a connected connection can be refreshed.
   */
  async acquireRefreshLease(connectionId: string, owner: string, leaseMs: number, nowMs: number): Promise<boolean> {
    const { changes } = await this.db.run(
      `UPDATE connections
          SET refresh_lease_until = ?, refresh_lease_owner = ?
        WHERE id = ? AND status = 'connected' AND tokens IS NOT NULL
          AND (refresh_lease_until <= ? OR refresh_lease_owner = ?)`,
      [nowMs + leaseMs, owner, connectionId, nowMs, owner],
    );
    return changes === 1;
  }

  /**
   * Persists refreshed tokens and releases the lease, only while `owner` holds it. Returns the new
   * generation, or undefined when the lease is no longer ours (the tokens were not saved).
   */
  async saveRefreshed(connectionId: string, owner: string, tokens: TokenSet): Promise<number | undefined> {
    const row = await this.db.get<{ token_generation: number }>(
      `UPDATE connections
          SET tokens = ?, token_generation = token_generation + 1,
              refresh_lease_until = 0, refresh_lease_owner = NULL
        WHERE id = ? AND refresh_lease_owner = ? AND status = 'connected'
        RETURNING token_generation`,
      [this.encrypt(connectionId, tokens), connectionId, owner],
    );
    return row ? Number(row.token_generation) : undefined;
  }

  /** Gives the lease back without saving (the refresh failed for a reason that another process may not hit). */
  async releaseRefreshLease(connectionId: string, owner: string): Promise<void> {
    await this.db.run(
      'UPDATE connections SET refresh_lease_until = 0, refresh_lease_owner = NULL WHERE id = ? AND refresh_lease_owner = ?',
      [connectionId, owner],
    );
  }

  /**
   * The tokens no longer work (invalid_grant, or 401 after a refresh): only a new browser authorization
   * helps. With `generation`, marks only if nobody saved newer tokens meanwhile. Returns whether it marked.
   */
  async markNeedsReauthorization(connectionId: string, generation?: number): Promise<boolean> {
    const { changes } = await this.db.run(
      `UPDATE connections
          SET status = 'needs-reauthorization', refresh_lease_until = 0, refresh_lease_owner = NULL, updated_at = ?
        WHERE id = ? AND status <> 'needs-reauthorization'${generation === undefined ? '' : ' AND token_generation = ?'}`,
      generation === undefined ? [new Date().toISOString(), connectionId] : [new Date().toISOString(), connectionId, generation],
    );
    return changes === 1;
  }

  private encrypt(connectionId: string, tokens: TokenSet): string {
    const plain: TokenSet = { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt };
    if (tokens.refreshToken) plain.refreshToken = tokens.refreshToken;
    return this.secrets.seal(JSON.stringify(plain), connectionId);
  }

  private decrypt(connectionId: string, sealed: string): TokenSet {
    const parsed = JSON.parse(this.secrets.open(sealed, connectionId)) as TokenSet;
    return parsed;
  }
}
