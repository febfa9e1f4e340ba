// pino with secrets redacted at the logger, so no component can leak a password, token or stream
// key by logging the object that carries it.
import { pino, stdSerializers, type Logger, type DestinationStream } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'password',
  'newPassword',
  'token',
  'accessToken',
  'refreshToken',
  'streamKey',
  'key',
  'secret',
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: stdSerializers.err },
    },
    destination,
  );
}

// RTMP stream paths carry the stream key, and a confused encoder can put it anywhere after the app
// (`/live/a/b/<key>`, `/live/x?key=<key>`): anything logged about a publish keeps the first segment
// only and redacts everything after it.
export function redactStreamPath(streamPath: string): string {
  const match = /^\/?([^/?]*)[/?]/.exec(streamPath);
  return match ? `/${match[1]}/[redacted]` : '/[redacted]';
}
