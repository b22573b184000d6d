import pino from 'pino';

/**
 * Structured JSON logs. Redaction is a second line of defence: code never logs tokens, secrets,
 * codes or emails on purpose (no personal data or secret in a log line), and these paths are removed if one slips into an object.
 */
export function createLogger(level = 'info', name?: string) {
  return pino({
    level,
    name,
    redact: {
      paths: [
        'req.headers.authorization', 'headers.authorization', 'authorization',
        '*.accessToken', '*.refreshToken', 'accessToken', 'refreshToken', '*.access_token', '*.refresh_token',
        'code', 'codeVerifier', 'ticket', 'state', 'email', '*.email', 'clientSecret', 'secretsKey',
      ],
      censor: '[redacted]',
    },
  });
}

export type Logger = ReturnType<typeof createLogger>;
