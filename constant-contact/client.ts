// Placeholder until the client lands: constructs the ConstantContactApi used by the API and activities.
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { RateLimitRepository } from '../store/rate-limits';
import type { TokenRepository } from '../store/tokens';
import type { ConstantContactApi } from './types';

export interface ConstantContactClientDeps {
  config: Config['constantContact'];
  tokens: TokenRepository;
  rateLimits: RateLimitRepository;
  logger: Logger;
  clock?: () => Date;
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function createConstantContactClient(deps: ConstantContactClientDeps): ConstantContactApi {
  throw new Error('not implemented yet');
}
