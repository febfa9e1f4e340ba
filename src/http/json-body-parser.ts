// JSON bodies are UTF-8 (RFC 8259 §8.1). Fastify's parser decodes every body as UTF-8 whatever
// charset the Content-Type declares, so a body declared in another charset would be misread: it is
// refused with a 415 instead.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';

/** The charset parameter of a Content-Type, lower-cased and unquoted; undefined when absent. */
export function charsetOf(contentType: string | undefined): string | undefined {
  let charset: string | undefined;
  for (const param of (contentType ?? '').split(';').slice(1)) {
    const eq = param.indexOf('=');
    const name = param.slice(0, eq === -1 ? undefined : eq).trim().toLowerCase();
    if (name !== 'charset') continue;
    // A second charset parameter that disagrees is as bad as a wrong one: keep the first that is not UTF-8.
    const value = eq === -1 ? '' : param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset === undefined || charset === 'utf-8' || charset === 'utf8') charset = value;
  }
  return charset;
}

export function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send JSON in UTF-8 (Content-Type: application/json; charset=utf-8).'), undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
}
