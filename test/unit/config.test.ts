import t from 'tap';
import { loadConfig, ConfigError } from '../../src/config.ts';

t.test('defaults give an embedded setup', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 8080);
  t.equal(c.rtmpPort, 1935);
  t.equal(c.databaseUrl, null);
  t.equal(c.redisUrl, null);
  t.equal(c.s3, null);
  t.match(c.mediaDir, /data\/media$/);
});

t.test('a bad value names its variable', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ SECRET_KEY: 'short' }, 'SECRET_KEY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY'],
    [{ S3_BUCKET: 'Bad_Bucket' }, 'S3_BUCKET'],
    [{ S3_BUCKET: 'vods', S3_ACCESS_KEY_ID: 'a' }, 'S3_SECRET_ACCESS_KEY'],
    [{ REGISTRATION: 'sometimes' }, 'REGISTRATION'],
    [{ ADMIN_USERNAME: 'not a name' }, 'ADMIN_USERNAME'],
    [{ MAIL_FROM: 'nobody' }, 'MAIL_FROM'],
    [{ SMTP_URL: 'http://mail.example' }, 'SMTP_URL'],
    // Mail links point at PUBLIC_URL, never at a request's Host header.
    [{ SMTP_URL: 'smtp://mail.example:25' }, 'PUBLIC_URL'],
  ];
  for (const [env, variable] of cases) {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, `${variable} is refused`);
    t.equal((caught as ConfigError).variable, variable);
    t.match((caught as ConfigError).message, new RegExp(`^${variable}: `));
  }
});

t.test('S3 settings are read together', async (t) => {
  const c = loadConfig({ S3_BUCKET: 'vods', S3_ENDPOINT: 'http://127.0.0.1:9000/', S3_FORCE_PATH_STYLE: 'true' });
  t.same(c.s3, { bucket: 'vods', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', accessKeyId: null, secretAccessKey: null, forcePathStyle: true });
});

t.test('mail and instance settings', async (t) => {
  const c = loadConfig({ SMTP_URL: 'smtps://user:pw@mail.example:465', PUBLIC_URL: 'https://live.example', ADMIN_USERNAME: 'Boss', REGISTRATION: 'invite', INSTANCE_NAME: 'River' });
  t.same(c.mail, { smtpUrl: 'smtps://user:pw@mail.example:465', from: 'Spillway <no-reply@localhost>' });
  t.equal(c.adminUsername, 'Boss');
  t.equal(c.registration, 'invite');
  t.equal(c.instanceName, 'River');
  const d = loadConfig({});
  t.equal(d.mail.smtpUrl, null, 'no SMTP by default: mail goes to files');
  t.equal(d.registration, 'open');
  t.equal(d.adminUsername, null);
});
