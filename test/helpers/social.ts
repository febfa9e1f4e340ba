// Videos for the social tests without recording one: a finished live session and its `vods` row,
// as the archiver leaves them (status ready), so comments, likes, views and search have something
// to work on. The e2e test makes a real one with ffmpeg.
import type { Server } from '../../src/main.ts';

export async function makeVideo(server: Server, slug: string, opts: { title?: string; visibility?: 'public' | 'unlisted' | 'private'; durationS?: number } = {}): Promise<string> {
  const db = server.database.db;
  const channel = await db.selectFrom('channels').select('id').where('slug', '=', slug).executeTakeFirstOrThrow();
  const startedAt = new Date(Date.now() - 3_600_000);
  const session = await db
    .insertInto('live_sessions')
    .values({ channel_id: channel.id, started_at: startedAt, ended_at: new Date(), end_reason: 'unpublished', renditions: '[]' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const vod = await db
    .insertInto('vods')
    .values({
      live_session_id: session.id,
      channel_id: channel.id,
      title: opts.title ?? 'A video',
      status: 'ready',
      visibility: opts.visibility ?? 'public',
      started_at: startedAt,
      duration_s: opts.durationS ?? 600,
      storage_prefix: `vods/${session.id}`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return vod.id;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
