// A real S3 API for tests: s3rver on 127.0.0.1 with an empty bucket in a temp directory.
// stop()/restart() keep the port and the data, so a test can simulate an outage and recovery.
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { multipartExtras } from './s3rver-multipart.ts';
import { tempDir } from './services.ts';

// s3rver ships no types; this is the part of its API we use (see node_modules/s3rver/README.md).
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  /** Koa's middleware list; the router is last */
  middleware: unknown[];
  store: Parameters<typeof multipartExtras>[0];
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  accessKeyId: 'S3RVER';
  secretAccessKey: 'S3RVER';
  stop(): Promise<void>;
  restart(): Promise<void>;
}

interface TestContext {
  teardown(fn: () => unknown): void;
}

export async function startS3Server(t: TestContext, bucket = 'spillway-test'): Promise<TestS3Server> {
  const directory = await tempDir(t, 's3rver');
  let instance: S3rverInstance | null = null;

  const listen = async (port: number): Promise<number> => {
    const next = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket }] });
    // ListParts and AbortMultipartUpload, which @tus/s3-store needs and s3rver lacks, just before its router.
    next.middleware.splice(next.middleware.length - 1, 0, multipartExtras(next.store));
    const address = await next.run();
    instance = next;
    return address.port;
  };
  const stop = async (): Promise<void> => {
    const current = instance;
    if (!current) return;
    instance = null;
    const closed = current.close();
    // An outage drops connections in flight too; close() alone would wait for them to finish.
    current.httpServer?.closeAllConnections();
    await closed;
  };

  const port = await listen(0);
  t.teardown(stop);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    stop,
    restart: async () => {
      await stop();
      await listen(port);
    },
  };
}
