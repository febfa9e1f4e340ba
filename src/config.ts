// The only module that reads the environment. Every value is parsed and checked once at start-up;
// a bad value stops the server with a message that names the variable.
import path from 'node:path';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

interface VarSpec {
  default: string;
  meaning: string;
}

// The table the README documents and docker-compose.yml is checked against.
export const CONFIG_VARS = {
  HOST: { default: '0.0.0.0', meaning: 'Address the HTTP and RTMP listeners bind to.' },
  PORT: { default: '8080', meaning: 'HTTP port (API, WebSocket chat, web UI, playlists).' },
  RTMP_PORT: { default: '1935', meaning: 'RTMP ingest port; OBS publishes to rtmp://HOST:RTMP_PORT/live.' },
  PUBLIC_URL: { default: '', meaning: 'Base URL viewers use (e.g. https://live.example.com); empty means relative URLs.' },
  DATA_DIR: { default: './data', meaning: 'Where embedded data lives: PGlite database, local storage, generated secret.' },
  MEDIA_DIR: { default: '', meaning: 'Live media files (parts, segments); empty means DATA_DIR/media.' },
  NODE_ID: { default: '', meaning: 'This node\'s id among several sharing one database (letters, digits, - and _); empty means generated once into DATA_DIR/node-id.' },
  NODE_URL: {
    default: '',
    meaning: 'Internal base URL other nodes reach this one at, to proxy the playlists and media of streams it ingests (e.g. http://app1:8080); empty means http://HOST:PORT as bound (loopback for 0.0.0.0).',
  },
  LIVE_LEASE_S: { default: '15', meaning: 'A node renews the lease on its live streams every few seconds (five times per lease); a stream whose node stops renewing for this long is ended as node-lost by another node.' },
  NODE_LOST_FINALIZE_S: { default: '60', meaning: 'When a stream\'s node was lost, another node finalises its VOD from what reached storage (marked interrupted) after this many seconds, unless the node comes back first.' },
  DATABASE_URL: { default: '', meaning: 'PostgreSQL URL; empty means embedded PGlite under DATA_DIR/pglite.' },
  REDIS_URL: { default: '', meaning: 'Redis URL for pub/sub, counters, rate limits and the BullMQ job queues; empty means in-process (jobs kept in the database).' },
  REDIS_PREFIX: { default: 'spillway:', meaning: 'Prefix of every Redis key and channel, so several deployments can share one Redis.' },
  S3_BUCKET: { default: '', meaning: 'S3 bucket for recordings; empty means local storage under DATA_DIR/storage.' },
  S3_ENDPOINT: { default: '', meaning: 'S3-compatible endpoint (MinIO etc.); empty means AWS.' },
  S3_REGION: { default: 'us-east-1', meaning: 'S3 region.' },
  S3_ACCESS_KEY_ID: { default: '', meaning: 'S3 access key; empty means the AWS default credential chain.' },
  S3_SECRET_ACCESS_KEY: { default: '', meaning: 'S3 secret key.' },
  S3_FORCE_PATH_STYLE: { default: 'false', meaning: 'Path-style S3 URLs (true for MinIO and most S3-compatible servers).' },
  CDN_URL: { default: '', meaning: 'Public base URL of the bucket; when set, VOD playlists point there.' },
  SECRET_KEY: {
    default: '',
    meaning: 'Server secret (64 hex chars) that signs tokens and encrypts stream keys; empty means generated once into DATA_DIR/secret.key.',
  },
  FFMPEG_PATH: { default: 'ffmpeg', meaning: 'The ffmpeg binary (Debian 5.1 or newer).' },
  LADDER: { default: '720:2800,480:1400,360:800', meaning: 'Transcoded renditions as height:videoKbps, highest first; never above the source. Empty: passthrough only.' },
  X264_PRESET: { default: 'veryfast', meaning: 'x264 preset of the transcoded renditions (ultrafast … medium); faster uses less CPU.' },
  PART_DURATION_MS: { default: '100', meaning: 'LL-HLS part duration in milliseconds (100–1000); PART-HOLD-BACK is three parts. Behind an nginx edge use 200 or more.' },
  SEGMENT_DURATION_S: { default: '1', meaning: 'Segment duration of transcoded renditions in seconds (1–6); passthrough segments follow source keyframes.' },
  LIVE_WINDOW_SEGMENTS: { default: '60', meaning: 'Segments listed in a live playlist (the DVR window).' },
  LIVE_TILE_BATCH: { default: '50', meaning: 'Seek-preview tiles a recording makes per ffmpeg run while live (1–100). Larger batches cost less CPU (ffmpeg\'s start costs about a dozen tiles); the last batch is made when the VOD is finalised.' },
  LIVE_GRACE_S: { default: '10', meaning: 'A publisher whose connection drops (without pressing Stop) and reconnects within this many seconds continues the same live session.' },
  MAX_LIVE_DURATION_S: { default: '43200', meaning: 'A live stream is ended after this many seconds (0: no limit).' },
  ARCHIVER: {
    default: 'in-process',
    meaning: 'in-process: the server uploads recordings itself; external: run `npm run archiver` beside it (exactly one archiver per MEDIA_DIR).',
  },
  CHANNEL_STORAGE_LIMIT_MB: { default: '0', meaning: 'Recorded storage a channel may use, in MiB (0: no limit); at the limit a stream ends and new ones are refused.' },
  UPLOAD_MAX_MB: { default: '8192', meaning: 'Largest video file a creator may upload, in MiB; refused before any byte is accepted.' },
  UPLOAD_MAX_DURATION_S: { default: '14400', meaning: 'Longest uploaded video, in seconds; a longer one ends failed with a reason.' },
  UPLOAD_EXPIRY_H: { default: '24', meaning: 'Hours an unfinished upload is kept; then it and its VOD are removed.' },
  UPLOADS_PER_USER: { default: '3', meaning: 'Uploads one account may have in progress at once.' },
  WORKER: {
    default: 'in-process',
    meaning: 'in-process: the server runs transcoding jobs itself; external: run `npm run worker` processes beside it (any number, on any machine sharing REDIS_URL).',
  },
  WORKER_CONCURRENCY: { default: '1', meaning: 'Transcoding jobs one worker process (or the in-process worker) runs at once.' },
  CHAT_MAX_SOCKETS_PER_IP: {
    default: '100',
    meaning: 'Chat WebSockets one address (an IPv6 /64) may hold open on one server; more are refused with 429 before the upgrade.',
  },
  CHAT_MAX_SOCKETS_PER_USER: { default: '10', meaning: 'Chat WebSockets one account may sign in on one server; a further auth frame is refused.' },
  WEBHOOK_ALLOW_PRIVATE: {
    default: 'false',
    meaning: 'Let webhooks target private, loopback and link-local addresses, and plain http:// (tests, closed networks only: it opens server-side request forgery).',
  },
  TRUST_PROXY: { default: 'false', meaning: 'Trust X-Forwarded-* headers (set true behind nginx).' },
  LOG_LEVEL: { default: 'info', meaning: 'pino level: fatal, error, warn, info, debug, trace, silent.' },
  LOGIN_RATE_LIMIT: { default: '10', meaning: 'Login attempts allowed per IP and per account in LOGIN_RATE_WINDOW_S.' },
  LOGIN_RATE_WINDOW_S: { default: '300', meaning: 'Window of the login rate limit, in seconds.' },
  SMTP_URL: {
    default: '',
    meaning: 'Outgoing mail server (smtp:// or smtps://user:pass@host:port); empty means mail is written under DATA_DIR/mail/ and its link logged. When set, new accounts verify their email before they may stream.',
  },
  MAIL_FROM: { default: 'Spillway <no-reply@localhost>', meaning: 'Sender of password-reset and verification mail.' },
  ADMIN_USERNAME: { default: '', meaning: 'This account is made an instance admin at start and when it signs up; empty means the first account is admin.' },
  INSTANCE_NAME: { default: 'Spillway', meaning: "The instance's name, until an admin changes it on the admin page." },
  REGISTRATION: {
    default: 'open',
    meaning: 'Who may sign up, until an admin changes it: open, approval (an admin approves each account), invite (invite links only) or closed.',
  },
} as const satisfies Record<string, VarSpec>;

export type ConfigVar = keyof typeof CONFIG_VARS;

export interface Config {
  host: string;
  port: number;
  rtmpPort: number;
  publicUrl: string;
  dataDir: string;
  mediaDir: string;
  /** null: generated once into DATA_DIR/node-id (src/node-identity.ts) */
  nodeId: string | null;
  /** null: derived from the bound address once the server listens */
  nodeUrl: string | null;
  leaseMs: number;
  nodeLostFinalizeMs: number;
  databaseUrl: string | null;
  redisUrl: string | null;
  redisPrefix: string;
  s3: S3Config | null;
  cdnUrl: string | null;
  secretKey: Buffer | null;
  trustProxy: boolean;
  live: LiveConfig;
  archiver: 'in-process' | 'external';
  /** Bytes of recordings a channel may keep; null: no limit. */
  channelStorageLimitBytes: number | null;
  uploads: UploadConfig;
  worker: 'in-process' | 'external';
  workerConcurrency: number;
  logLevel: string;
  loginRateLimit: number;
  loginRateWindowS: number;
  chatMaxSocketsPerIp: number;
  chatMaxSocketsPerUser: number;
  mail: MailConfig;
  /** Made admin at start and at sign-up; null: the first account is admin. */
  adminUsername: string | null;
  instanceName: string;
  registration: RegistrationPolicy;
  webhookAllowPrivate: boolean;
}

export type RegistrationPolicy = 'open' | 'approval' | 'invite' | 'closed';
export const REGISTRATION_POLICIES: readonly RegistrationPolicy[] = ['open', 'approval', 'invite', 'closed'];

export interface MailConfig {
  /** null: mail goes to files under DATA_DIR/mail/ */
  smtpUrl: string | null;
  from: string;
}

export interface LiveConfig {
  ffmpegPath: string;
  ladder: Array<{ height: number; videoBitrateKbps: number }>;
  x264Preset: string;
  partSeconds: number;
  segmentSeconds: number;
  windowSegments: number;
  tileBatch: number;
  graceMs: number;
  maxDurationMs: number;
}

export interface UploadConfig {
  maxBytes: number;
  maxDurationS: number;
  expiryMs: number;
  perUser: number;
}

export interface S3Config {
  bucket: string;
  endpoint: string | null;
  region: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  forcePathStyle: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const raw = (name: ConfigVar): string => {
    const value = env[name];
    return value === undefined || value === '' ? CONFIG_VARS[name].default : value.trim();
  };
  const int = (name: ConfigVar, min: number, max: number): number => {
    const text = raw(name);
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
  const bool = (name: ConfigVar): boolean => {
    const text = raw(name).toLowerCase();
    if (['true', '1', 'yes'].includes(text)) return true;
    if (['false', '0', 'no'].includes(text)) return false;
    throw new ConfigError(name, `expected true or false, got "${text}"`);
  };
  const url = (name: ConfigVar, protocols: string[]): string | null => {
    const text = raw(name);
    if (text === '') return null;
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      throw new ConfigError(name, 'is not a valid URL');
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got ${parsed.protocol}`);
    }
    return text.replace(/\/+$/, '');
  };

  const dataDir = path.resolve(raw('DATA_DIR'));
  const mediaDir = raw('MEDIA_DIR') === '' ? path.join(dataDir, 'media') : path.resolve(raw('MEDIA_DIR'));

  const nodeId = raw('NODE_ID');
  if (nodeId !== '' && !/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) throw new ConfigError('NODE_ID', `expected 1 to 64 letters, digits, - or _, got "${nodeId}"`);

  const secretText = raw('SECRET_KEY');
  if (secretText !== '' && !/^[0-9a-fA-F]{64}$/.test(secretText)) {
    throw new ConfigError('SECRET_KEY', 'expected 64 hexadecimal characters (32 bytes); generate one with `openssl rand -hex 32`');
  }

  const logLevel = raw('LOG_LEVEL');
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }

  const bucket = raw('S3_BUCKET');
  if (bucket !== '' && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('S3_BUCKET', `"${bucket}" is not a valid bucket name`);
  }
  const s3: S3Config | null =
    bucket === ''
      ? null
      : {
          bucket,
          endpoint: url('S3_ENDPOINT', ['http:', 'https:']),
          region: raw('S3_REGION'),
          accessKeyId: raw('S3_ACCESS_KEY_ID') || null,
          secretAccessKey: raw('S3_SECRET_ACCESS_KEY') || null,
          forcePathStyle: bool('S3_FORCE_PATH_STYLE'),
        };
  if (s3 && (s3.accessKeyId === null) !== (s3.secretAccessKey === null)) {
    throw new ConfigError('S3_SECRET_ACCESS_KEY', 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  }

  const presets = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'];
  const preset = raw('X264_PRESET');
  if (!presets.includes(preset)) throw new ConfigError('X264_PRESET', `expected one of ${presets.join(', ')}, got "${preset}"`);
  const ladderText = env.LADDER === undefined ? CONFIG_VARS.LADDER.default : env.LADDER.trim();
  const ladder = ladderText === '' ? [] : ladderText.split(',').map((rung) => {
    const m = /^(\d{3,4}):(\d{2,6})$/.exec(rung.trim());
    if (!m || Number(m[1]) < 144 || Number(m[1]) > 2160) throw new ConfigError('LADDER', `"${rung}" is not height:videoKbps (e.g. 720:2800)`);
    return { height: Number(m[1]), videoBitrateKbps: Number(m[2]) };
  });
  const live: LiveConfig = {
    ffmpegPath: raw('FFMPEG_PATH'),
    ladder,
    x264Preset: preset,
    partSeconds: int('PART_DURATION_MS', 100, 1000) / 1000,
    segmentSeconds: int('SEGMENT_DURATION_S', 1, 6),
    windowSegments: int('LIVE_WINDOW_SEGMENTS', 6, 3600),
    tileBatch: int('LIVE_TILE_BATCH', 1, 100),
    graceMs: int('LIVE_GRACE_S', 0, 600) * 1000,
    maxDurationMs: int('MAX_LIVE_DURATION_S', 0, 7 * 86400) * 1000,
  };

  const archiver = raw('ARCHIVER');
  if (archiver !== 'in-process' && archiver !== 'external') throw new ConfigError('ARCHIVER', `expected in-process or external, got "${archiver}"`);
  const storageLimitMb = int('CHANNEL_STORAGE_LIMIT_MB', 0, 1024 * 1024 * 1024);
  const worker = raw('WORKER');
  if (worker !== 'in-process' && worker !== 'external') throw new ConfigError('WORKER', `expected in-process or external, got "${worker}"`);

  const registration = raw('REGISTRATION') as RegistrationPolicy;
  if (!REGISTRATION_POLICIES.includes(registration)) throw new ConfigError('REGISTRATION', `expected one of ${REGISTRATION_POLICIES.join(', ')}, got "${registration}"`);
  const adminUsername = raw('ADMIN_USERNAME');
  if (adminUsername !== '' && !/^[A-Za-z0-9_]{3,25}$/.test(adminUsername)) throw new ConfigError('ADMIN_USERNAME', `"${adminUsername}" is not a username (3–25 letters, digits or underscores)`);
  const mailFrom = raw('MAIL_FROM');
  if (!/@/.test(mailFrom) || /[\r\n]/.test(mailFrom)) throw new ConfigError('MAIL_FROM', `expected an address such as "Spillway <no-reply@example.com>", got "${mailFrom}"`);
  const instanceName = raw('INSTANCE_NAME');
  if (instanceName.length > 100) throw new ConfigError('INSTANCE_NAME', 'at most 100 characters');

  const smtpUrl = url('SMTP_URL', ['smtp:', 'smtps:']);
  const publicUrl = url('PUBLIC_URL', ['http:', 'https:']) ?? '';
  // Links in mail are built from PUBLIC_URL, never from a request's Host header, which anyone can
  // set (a reset link pointing at an attacker's host would hand them the token).
  if (smtpUrl && publicUrl === '') throw new ConfigError('PUBLIC_URL', 'must be set when SMTP_URL is: links in mail point there');

  return {
    host: raw('HOST'),
    port: int('PORT', 0, 65535),
    rtmpPort: int('RTMP_PORT', 0, 65535),
    publicUrl,
    dataDir,
    mediaDir,
    nodeId: nodeId === '' ? null : nodeId,
    nodeUrl: url('NODE_URL', ['http:', 'https:']),
    leaseMs: int('LIVE_LEASE_S', 3, 600) * 1000,
    nodeLostFinalizeMs: int('NODE_LOST_FINALIZE_S', 0, 86400) * 1000,
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: raw('REDIS_PREFIX'),
    s3,
    cdnUrl: url('CDN_URL', ['http:', 'https:']),
    secretKey: secretText === '' ? null : Buffer.from(secretText, 'hex'),
    trustProxy: bool('TRUST_PROXY'),
    live,
    archiver,
    channelStorageLimitBytes: storageLimitMb === 0 ? null : storageLimitMb * 1024 * 1024,
    uploads: {
      maxBytes: int('UPLOAD_MAX_MB', 1, 5 * 1024 * 1024) * 1024 * 1024,
      maxDurationS: int('UPLOAD_MAX_DURATION_S', 1, 7 * 86400),
      expiryMs: int('UPLOAD_EXPIRY_H', 1, 24 * 30) * 3600 * 1000,
      perUser: int('UPLOADS_PER_USER', 1, 100),
    },
    worker,
    workerConcurrency: int('WORKER_CONCURRENCY', 1, 64),
    logLevel,
    loginRateLimit: int('LOGIN_RATE_LIMIT', 1, 100000),
    loginRateWindowS: int('LOGIN_RATE_WINDOW_S', 1, 86400),
    chatMaxSocketsPerIp: int('CHAT_MAX_SOCKETS_PER_IP', 1, 1_000_000),
    chatMaxSocketsPerUser: int('CHAT_MAX_SOCKETS_PER_USER', 1, 1_000_000),
    mail: { smtpUrl, from: mailFrom },
    adminUsername: adminUsername === '' ? null : adminUsername,
    instanceName,
    registration,
    webhookAllowPrivate: bool('WEBHOOK_ALLOW_PRIVATE'),
  };
}
