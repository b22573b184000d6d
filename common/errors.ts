/**
 * Errors cross boundaries as typed codes. ApiError carries the HTTP status and the snake_case code
 * of api.md; the API's one error middleware turns it into the error body.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, details?: unknown[]) => new ApiError(400, 'validation_failed', message, details);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: unknown[]) => new ApiError(409, code, message, details);
export const unprocessable = (code: string, message: string, details?: unknown[]) => new ApiError(422, code, message, details);
