/**
 * Errors of the product in its own words, raised below the API (store, services) and crossing
 * boundaries as a typed code. `kind` says what went wrong for the caller; the API's one error
 * middleware (api/errors.ts) turns each kind into an HTTP status and the code into the error body.
 */
export type DomainErrorKind = 'invalid' | 'not_found' | 'conflict' | 'unprocessable' | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** snake_case, the same vocabulary as the API's error codes (e.g. `validation_failed`). */
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Input that cannot be used as given (the API answers 400 `validation_failed`). */
export const invalidInput = (message: string, details?: unknown[]) => new DomainError('invalid', 'validation_failed', message, details);
