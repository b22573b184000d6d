import type { SecretBox } from '../common/secrets';
import type { Db } from './db';

export class ConnectionRepository {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}
}
