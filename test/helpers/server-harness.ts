// Builds the whole server, as main.ts does, on real PostgreSQL and Redis (a fresh database and a
// fresh key prefix per call) and a temporary data directory. Logs are captured so tests can check
// what the server wrote (for example that no secret leaks).
import { loadConfig, type ConfigVar } from '../../src/config.ts';
import { createServer, type Server, type ServerTuning } from '../../src/main.ts';
import { captureLog } from './captured-log.ts';
import { TEST_REDIS_URL, createTestDatabase, tempDir, uniquePrefix } from './services.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TestServer extends Server {
  logs: () => string;
  dataDir: string;
}

export async function startTestServer(t: Teardown, env: Partial<Record<ConfigVar, string>> = {}, tuning: ServerTuning = {}): Promise<TestServer> {
  const dataDir = await tempDir(t, 'spillway-server');
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    RTMP_PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: await createTestDatabase(t),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: uniquePrefix('server'),
    LOG_LEVEL: 'debug',
    ...env,
  });
  const captured = captureLog(config.logLevel);
  const server = await createServer(config, captured.log, tuning);
  t.teardown(() => server.close());
  return Object.assign(server, { logs: captured.text, dataDir });
}

/** Registers a user through the API and returns its session body. */
export async function registerUser(server: Server, username: string, password = 'correct horse battery'): Promise<{ accessToken: string; refreshToken: string; user: { id: string; username: string } }> {
  const res = await server.app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { username, email: `${username.toLowerCase()}@example.test`, password },
  });
  if (res.statusCode !== 201) throw new Error(`register ${username}: ${res.statusCode} ${res.body}`);
  return res.json();
}
