// s3rver 3.7 implements CreateMultipartUpload, UploadPart and CompleteMultipartUpload but answers
// ListParts and AbortMultipartUpload with 405, and @tus/s3-store needs both: ListParts is how a
// resumed upload learns its offset after a restart, AbortMultipartUpload is how an upload is
// terminated or expired. This middleware adds the two calls, reading and removing what s3rver's own
// filesystem store keeps for a multipart upload (`<bucket>/.../<uploadId>/<partNumber>` with a
// `.md5` beside each part, see node_modules/s3rver/lib/stores/filesystem.js), so the parts listed
// are exactly the ones s3rver stored and will assemble. Real S3 and MinIO implement both natively.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}

interface UploadsStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
}

export function multipartExtras(store: UploadsStore) {
  return async (ctx: KoaContext, next: () => Promise<unknown>): Promise<unknown> => {
    const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : null;
    const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!uploadId || !match || !/^[0-9a-f]{32}$/.test(uploadId) || ctx.query.partNumber !== undefined) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'DELETE') return next();
    const [, bucket, key] = match;
    const dir = path.join(store.getResourcePath(bucket!, undefined, 'uploads'), uploadId);
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>${uploadId}</UploadId></Error>`;
      return;
    }
    if (ctx.method === 'DELETE') {
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = '';
      return;
    }
    const numbers = (await readdir(dir)).filter((f) => /^\d+$/.test(f)).map(Number).sort((a, b) => a - b);
    const parts = await Promise.all(
      numbers.map(async (n) => {
        const file = path.join(dir, String(n));
        const [info, md5] = await Promise.all([stat(file), readFile(`${file}.md5`, 'utf8').catch(() => null)]);
        // A part still being written has no .md5 yet: it is not a stored part.
        return md5 === null ? null : { n, size: info.size, md5, modified: info.mtime.toISOString() };
      }),
    );
    const xmlKey = key!.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<ListPartsResult><Bucket>${bucket}</Bucket><Key>${xmlKey}</Key><UploadId>${uploadId}</UploadId>`,
      '<PartNumberMarker>0</PartNumberMarker><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>',
      ...parts
        .filter((p) => p !== null)
        .map((p) => `<Part><PartNumber>${p.n}</PartNumber><LastModified>${p.modified}</LastModified><ETag>"${p.md5}"</ETag><Size>${p.size}</Size></Part>`),
      '</ListPartsResult>',
    ].join('');
  };
}
