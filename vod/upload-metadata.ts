// The tus Upload-Metadata header of a new upload (`key base64value,key base64value`), checked into
// what a VOD needs: filename, title, optional description and visibility. Pure: text in, data or a
// message a person understands out.
import type { VodVisibility } from './vod-tables.ts';

export interface UploadMetadata {
  filename: string;
  title: string;
  description: string;
  visibility: VodVisibility;
}

const VISIBILITIES: readonly VodVisibility[] = ['public', 'unlisted', 'private'];
const KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
export const MAX_METADATA_HEADER = 8 * 1024;

/** Strips control characters and folds whitespace, as titles elsewhere are kept. */
function clean(text: string, keepLines = false): string {
  const noControls = text.replace(keepLines ? /[\u0000-\u0009\u000B-\u001F\u007F\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/g : /[\u0000-\u001F\u007F\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/g, keepLines ? '' : ' ');
  return keepLines ? noControls.trim() : noControls.replace(/\s+/g, ' ').trim();
}

export function parseUploadMetadata(header: string | undefined): UploadMetadata | { error: string } {
  if (header !== undefined && header.length > MAX_METADATA_HEADER) return { error: 'Upload-Metadata is too long.' };
  const pairs = new Map<string, string>();
  for (const item of (header ?? '').split(',')) {
    const trimmed = item.trim();
    if (trimmed === '') continue;
    const [key, value = '', extra] = trimmed.split(' ');
    if (extra !== undefined || !KEY.test(key!) || !BASE64.test(value) || pairs.has(key!)) return { error: 'Upload-Metadata is malformed.' };
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    if (decoded.includes('\uFFFD')) return { error: `Upload-Metadata ${key} is not UTF-8.` };
    pairs.set(key!, decoded);
  }
  const filename = clean(pairs.get('filename') ?? '').slice(0, 255);
  if (filename === '') return { error: 'Name the file: Upload-Metadata needs filename.' };
  const title = clean(pairs.get('title') ?? '') || clean(filename.replace(/\.[A-Za-z0-9]{1,5}$/, ''));
  if (title === '') return { error: 'The title may not be blank.' };
  if ([...title].length > 140) return { error: 'The title is longer than 140 characters.' };
  const description = clean(pairs.get('description') ?? '', true);
  if ([...description].length > 5000) return { error: 'The description is longer than 5000 characters.' };
  const visibility = (pairs.get('visibility') ?? 'public') as VodVisibility;
  if (!VISIBILITIES.includes(visibility)) return { error: 'visibility must be public, unlisted or private.' };
  return { filename, title, description, visibility };
}
