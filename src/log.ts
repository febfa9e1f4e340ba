// pino with secrets redacted at the logger, so no component can leak a password, token or stream
// key by logging the object that carries it.
import { pino, stdSerializers, type Logger, type DestinationStream } from 'pino';
import { build as prettyStream } from 'pino-pretty';

export type { Logger };

const SECRET_FIELDS = [
  'password',
  'newPassword',
  'currentPassword',
  'inviteCode',
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

const RESERVED_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/**
 * Every key appears once per line, whatever the nesting: pino appends a child's bindings to its
 * parent's and a call's fields to both, so `child({ mod })` under a logger that already has `mod`,
 * or a call repeating a bound `vod`, would print the key twice (and log shippers disagree on which
 * one wins). Here a child is made from the root with the merged bindings, and a call's fields that
 * repeat a binding go through a one-off child, so the innermost value wins and appears alone.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const boundKeys = new WeakMap<Logger, Set<string>>();
  const keysOf = (logger: Logger): Set<string> => {
    let keys = boundKeys.get(logger);
    if (!keys) boundKeys.set(logger, (keys = new Set(Object.keys(logger.bindings()))));
    return keys;
  };
  const root: Logger = pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: stdSerializers.err },
      hooks: {
        logMethod(args, method) {
          const [first, ...rest] = args;
          if (!first || typeof first !== 'object' || first instanceof Error) return method.apply(this, args);
          const fields = { ...(first as Record<string, unknown>) };
          // pino's own keys (the server's pid, the time…) are not a call's to change: a call that
          // names one keeps its value under `fields`.
          const moved: Record<string, unknown> = {};
          for (const key of Object.keys(fields).filter((k) => RESERVED_KEYS.has(k))) {
            moved[key] = fields[key];
            delete fields[key];
          }
          if (Object.keys(moved).length > 0) fields.fields = moved;
          const bound = keysOf(this);
          const overrides: Record<string, unknown> = {};
          for (const key of Object.keys(fields).filter((k) => bound.has(k))) {
            overrides[key] = fields[key];
            delete fields[key];
          }
          const target = Object.keys(overrides).length > 0 ? this.child(overrides) : this;
          return method.apply(target, [fields, ...rest] as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
  const pinoChild = root.child;
  root.child = function child(this: Logger, bindings, options) {
    return pinoChild.call(root, { ...this.bindings(), ...bindings }, options);
  } as Logger['child'];
  return root;
}

/**
 * Where the processes' own logs go: readable lines for a person at a terminal, JSON (one object a
 * line, for log shippers) everywhere else. `output` defaults to stdout; tests pass their own.
 */
export function logDestination(terminal: { isTTY?: boolean }, output?: NodeJS.WritableStream): DestinationStream | undefined {
  if (!terminal.isTTY) return output as DestinationStream | undefined;
  return prettyStream({
    colorize: output === undefined,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
    ...(output ? { destination: output } : {}),
  });
}

// RTMP stream paths carry the stream key, and a confused encoder can put it anywhere after the app
// (`/live/a/b/<key>`, `/live/x?key=<key>`): anything logged about a publish keeps the first segment
// only and redacts everything after it.
export function redactStreamPath(streamPath: string): string {
  const match = /^\/?([^/?]*)[/?]/.exec(streamPath);
  return match ? `/${match[1]}/[redacted]` : '/[redacted]';
}
