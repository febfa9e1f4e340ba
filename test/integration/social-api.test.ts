// Follows, comments, likes, views and watch history through the real server on PostgreSQL and
// Redis; the two concurrency checks of the issue; and the bad input each must refuse without
// changing anything.
import t from 'tap';
import { bearer, makeVideo } from '../helpers/social.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

t.test('social API', async (t) => {
  const server = await startTestServer(t, {}, {
    social: {
      // Wide buckets so the concurrency checks measure the database, not the rate limits; the
      // comment bucket stays small enough to check that it refuses.
      writeLimits: { like: { capacity: 1000, refillPerSecond: 100 }, comment: { capacity: 8, refillPerSecond: 0.001 } },
      flushMs: 60_000,
    },
  });
  const app = server.app;
  const alice = await registerUser(server, 'alice');
  const bob = await registerUser(server, 'bob');
  const carol = await registerUser(server, 'carol');
  const channel = async (token?: string) => (await app.inject({ url: '/api/v1/channels/alice', headers: token ? bearer(token) : {} })).json();
  const video = await makeVideo(server, 'alice', { title: 'Speedrun practice' });
  const privateVideo = await makeVideo(server, 'alice', { title: 'Secret rehearsal', visibility: 'private' });
  const vodBody = async (id: string, token?: string) => (await app.inject({ url: `/api/v1/vods/${id}`, headers: token ? bearer(token) : {} })).json();

  t.test('follows', async (t) => {
    const follow = await app.inject({ method: 'PUT', url: '/api/v1/channels/alice/follow', headers: bearer(bob.accessToken) });
    t.equal(follow.statusCode, 200);
    t.same(follow.json(), { following: true, followerCount: 1 });
    t.match(await channel(bob.accessToken), { followerCount: 1, following: true });
    const anonymous = await channel();
    t.equal(anonymous.followerCount, 1);
    t.notOk('following' in anonymous, 'no following flag for an anonymous viewer');
    t.equal((await channel(carol.accessToken)).following, false);

    const again = await app.inject({ method: 'PUT', url: '/api/v1/channels/alice/follow', headers: bearer(bob.accessToken) });
    t.equal(again.statusCode, 409);
    t.equal(again.json().error.code, 'ALREADY_FOLLOWING');
    const self = await app.inject({ method: 'PUT', url: '/api/v1/channels/alice/follow', headers: bearer(alice.accessToken) });
    t.equal(self.statusCode, 400);
    t.equal(self.json().error.code, 'CANNOT_FOLLOW_SELF');
    t.equal((await app.inject({ method: 'PUT', url: '/api/v1/channels/nobody_here/follow', headers: bearer(bob.accessToken) })).statusCode, 404);
    t.equal((await app.inject({ method: 'PUT', url: '/api/v1/channels/alice/follow' })).statusCode, 401);
    t.equal((await channel()).followerCount, 1, 'the refusals changed nothing');

    const following = (await app.inject({ url: '/api/v1/me/following', headers: bearer(bob.accessToken) })).json();
    t.same(following.channels.map((c: { slug: string; live: boolean }) => [c.slug, c.live]), [['alice', false]]);

    await app.inject({ method: 'PUT', url: '/api/v1/channels/alice/follow', headers: bearer(carol.accessToken) });
    t.equal((await channel()).followerCount, 2);
    const unfollow = await app.inject({ method: 'DELETE', url: '/api/v1/channels/alice/follow', headers: bearer(carol.accessToken) });
    t.same(unfollow.json(), { following: false, followerCount: 1 });
  });

  t.test('comments and replies', async (t) => {
    const post = (token: string, payload: object, id = video) => app.inject({ method: 'POST', url: `/api/v1/vods/${id}/comments`, headers: bearer(token), payload });
    const first = await post(bob.accessToken, { text: 'Great run!\u202E evil\u200B' });
    t.equal(first.statusCode, 201);
    const comment = first.json();
    t.equal(comment.text, 'Great run! evil', 'bidi and invisible characters dropped, as in chat');
    t.equal(comment.author.username, 'bob');

    const reply = await post(carol.accessToken, { text: 'Agreed', parentId: comment.id });
    t.equal(reply.statusCode, 201);
    t.equal(reply.json().parentId, comment.id);
    const replyToReply = await post(bob.accessToken, { text: 'nested', parentId: reply.json().id });
    t.equal(replyToReply.statusCode, 400);
    t.equal(replyToReply.json().error.code, 'REPLY_TO_REPLY');
    const long = await post(bob.accessToken, { text: 'x'.repeat(10_000) });
    t.equal(long.statusCode, 400);
    t.equal(long.json().error.code, 'VALIDATION');
    const empty = await post(bob.accessToken, { text: '\u200B\u2066 \u2069' });
    t.equal(empty.statusCode, 400);
    const onPrivate = await post(bob.accessToken, { text: 'peek' }, privateVideo);
    t.equal(onPrivate.statusCode, 403, "a comment on someone else's private video");
    t.equal((await post(alice.accessToken, { text: 'my own private note' }, privateVideo)).statusCode, 201, 'the owner may');
    t.equal((await app.inject({ method: 'POST', url: `/api/v1/vods/${video}/comments`, payload: { text: 'anon' } })).statusCode, 401);

    let list = (await app.inject({ url: `/api/v1/vods/${video}/comments` })).json();
    t.equal(list.comments.length, 1, 'one top-level comment (replies are not listed at the top)');
    t.equal(list.comments[0].replyCount, 1);
    t.equal((await vodBody(video)).commentCount, 2, 'the video counts comments and replies');
    const replies = (await app.inject({ url: `/api/v1/vods/${video}/comments/${comment.id}/replies` })).json();
    t.same(replies.comments.map((c: { text: string }) => c.text), ['Agreed']);

    const edit = await app.inject({ method: 'PATCH', url: `/api/v1/vods/${video}/comments/${comment.id}`, headers: bearer(bob.accessToken), payload: { text: 'Great run, edited' } });
    t.equal(edit.statusCode, 200);
    t.equal(edit.json().text, 'Great run, edited');
    t.ok(edit.json().editedAt);
    const notAuthor = await app.inject({ method: 'PATCH', url: `/api/v1/vods/${video}/comments/${comment.id}`, headers: bearer(carol.accessToken), payload: { text: 'hijack' } });
    t.equal(notAuthor.statusCode, 403);
    const notAllowed = await app.inject({ method: 'DELETE', url: `/api/v1/vods/${video}/comments/${comment.id}`, headers: bearer(carol.accessToken) });
    t.equal(notAllowed.statusCode, 403, 'another viewer may not delete it');

    // The channel owner deletes bob's comment: its reply goes out of view and out of the count.
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/vods/${video}/comments/${comment.id}`, headers: bearer(alice.accessToken) })).statusCode, 204);
    list = (await app.inject({ url: `/api/v1/vods/${video}/comments` })).json();
    t.equal(list.comments.length, 0);
    t.equal((await vodBody(video)).commentCount, 0);
    const toDeleted = await post(carol.accessToken, { text: 'late reply', parentId: comment.id });
    t.equal(toDeleted.statusCode, 409);
    t.equal(toDeleted.json().error.code, 'PARENT_DELETED');

    // A chat moderator of the channel may delete too.
    t.equal((await app.inject({ method: 'PUT', url: '/api/v1/channels/alice/moderators/carol', headers: bearer(alice.accessToken) })).statusCode, 200);
    const bobs = (await post(bob.accessToken, { text: 'second thoughts' })).json();
    t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/vods/${video}/comments/${bobs.id}`, headers: bearer(carol.accessToken) })).statusCode, 204, 'a moderator deletes');

    t.test('pagination newest first and by top', async (t) => {
      const texts = ['one', 'two', 'three'];
      const ids: string[] = [];
      for (const text of texts) ids.push((await post(carol.accessToken, { text })).json().id);
      await app.inject({ method: 'PUT', url: `/api/v1/vods/${video}/comments/${ids[0]}/like`, headers: bearer(bob.accessToken) });
      await app.inject({ method: 'PUT', url: `/api/v1/vods/${video}/comments/${ids[0]}/like`, headers: bearer(alice.accessToken) });
      await app.inject({ method: 'PUT', url: `/api/v1/vods/${video}/comments/${ids[1]}/like`, headers: bearer(bob.accessToken) });
      const newest1 = (await app.inject({ url: `/api/v1/vods/${video}/comments?limit=2` })).json();
      t.same(newest1.comments.map((c: { text: string }) => c.text), ['three', 'two']);
      const newest2 = (await app.inject({ url: `/api/v1/vods/${video}/comments?limit=2&cursor=${newest1.nextCursor}` })).json();
      t.same(newest2.comments.map((c: { text: string }) => c.text), ['one']);
      t.equal(newest2.nextCursor, null);
      const top = (await app.inject({ url: `/api/v1/vods/${video}/comments?sort=top`, headers: bearer(bob.accessToken) })).json();
      t.same(top.comments.map((c: { text: string; likeCount: number }) => [c.text, c.likeCount]), [['one', 2], ['two', 1], ['three', 0]]);
      t.same(top.comments.map((c: { liked: boolean }) => c.liked), [true, true, false], "the viewer's own likes");
      const top2 = (await app.inject({ url: `/api/v1/vods/${video}/comments?sort=top&limit=1&cursor=${top.comments[0].id}` })).json();
      t.same(top2.comments.map((c: { text: string }) => c.text), ['two']);
    });

    t.test('comments are rate limited per user', async (t) => {
      let refused = null;
      for (let i = 0; i < 12 && !refused; i++) {
        const res = await post(bob.accessToken, { text: `flood ${i}` });
        if (res.statusCode === 429) refused = res;
      }
      t.ok(refused, 'refused once the bucket is empty');
      t.equal(refused!.json().error.code, 'RATE_LIMITED');
      t.ok(refused!.json().error.details.retryAfterMs > 0);
      const stored = await server.database.db.selectFrom('comments').select('text').where('text', 'like', 'flood %').execute();
      t.ok(stored.length <= 8, `no comment past the limit was stored (${stored.length})`);
    });
  });

  t.test('likes', async (t) => {
    const like = (token: string, method = 'PUT') => app.inject({ method: method as 'PUT', url: `/api/v1/vods/${video}/like`, headers: bearer(token) });
    const first = await like(bob.accessToken);
    t.same(first.json(), { liked: true, likeCount: 1 });
    const second = await like(bob.accessToken);
    t.equal(second.statusCode, 409);
    t.equal(second.json().error.code, 'ALREADY_LIKED');
    t.match(await vodBody(video, bob.accessToken), { likeCount: 1, liked: true });
    t.match(await vodBody(video, carol.accessToken), { likeCount: 1, liked: false });
    t.same((await like(bob.accessToken, 'DELETE')).json(), { liked: false, likeCount: 0 });
    t.same((await like(bob.accessToken, 'DELETE')).json(), { liked: false, likeCount: 0 }, 'undoing twice changes nothing');
    t.equal((await app.inject({ method: 'PUT', url: `/api/v1/vods/${privateVideo}/like`, headers: bearer(bob.accessToken) })).statusCode, 403);

    t.test('50 users liking at once give 50', async (t) => {
      const users = [];
      for (let i = 0; i < 50; i += 10) users.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => registerUser(server, `fan${i + j}`)))));
      const target = await makeVideo(server, 'alice', { title: 'Concurrency' });
      const results = await Promise.all(users.map((u) => app.inject({ method: 'PUT', url: `/api/v1/vods/${target}/like`, headers: bearer(u.accessToken) })));
      t.same([...new Set(results.map((r) => r.statusCode))], [200]);
      t.equal((await vodBody(target)).likeCount, 50);
      const rows = await server.database.db.selectFrom('vod_likes').select((eb) => eb.fn.countAll<string>().as('n')).where('vod_id', '=', target).executeTakeFirstOrThrow();
      t.equal(Number(rows.n), 50);
    });

    t.test('50 like/unlike pairs from one user leave 0 or 1, as the row says', async (t) => {
      const target = await makeVideo(server, 'alice', { title: 'Flapping clicks' });
      await Promise.all(
        Array.from({ length: 50 }, () =>
          Promise.all([
            app.inject({ method: 'PUT', url: `/api/v1/vods/${target}/like`, headers: bearer(carol.accessToken) }),
            app.inject({ method: 'DELETE', url: `/api/v1/vods/${target}/like`, headers: bearer(carol.accessToken) }),
          ]),
        ),
      );
      const count = (await vodBody(target)).likeCount;
      const rows = await server.database.db.selectFrom('vod_likes').select('user_id').where('vod_id', '=', target).execute();
      t.ok(count === 0 || count === 1, `count ${count}`);
      t.equal(count, rows.length, 'the count matches the rows');
    });
  });

  t.test('views: once per viewer per 30 minutes, written in batches', async (t) => {
    const target = await makeVideo(server, 'alice', { title: 'Counted' });
    const view = (headers: Record<string, string>, playedS = 12) => app.inject({ method: 'POST', url: `/api/v1/vods/${target}/views`, headers, payload: { playedS } });
    const early = await view({}, 4);
    t.equal(early.statusCode, 400, 'not before 10 s of playback');
    const first = await view({ 'user-agent': 'viewer-a' });
    t.same(first.json(), { counted: true });
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    t.match(cookie, /^sw_viewer=/);
    t.same((await view({ 'user-agent': 'viewer-a', cookie })).json(), { counted: false }, 'the same viewer again');
    t.same((await view({ 'user-agent': 'viewer-a' })).json(), { counted: false }, 'no cookie: recognised by address and agent');
    t.same((await view(bearer(bob.accessToken))).json(), { counted: true });
    t.same((await view(bearer(bob.accessToken))).json(), { counted: false });

    const writesBefore = server.social.recorder.stats.writes;
    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => view({ 'user-agent': `agent-${i}`, cookie: `sw_viewer=${String(i).padStart(22, 'A')}` })));
    t.equal(many.filter((r) => r.json().counted).length, 100);
    t.equal((await vodBody(target)).viewCount, 0, 'nothing written before the flush');
    await server.social.recorder.flush();
    t.equal(server.social.recorder.stats.writes - writesBefore, 1, '102 views, one statement');
    t.equal((await vodBody(target)).viewCount, 102);
    const trending = (await app.inject({ url: '/api/v1/trending' })).json();
    t.equal(trending.videos[0].id, target, 'the most viewed of the last 48 h leads');
    t.equal(trending.videos[0].recentViews, 102);
  });

  t.test('watch history and resume', async (t) => {
    const target = await makeVideo(server, 'alice', { title: 'Long stream' });
    const report = (positionS: number, token = bob.accessToken) => app.inject({ method: 'PUT', url: `/api/v1/me/history/${target}`, headers: bearer(token), payload: { positionS } });
    t.equal((await report(120)).statusCode, 204);
    t.equal((await report(754)).statusCode, 204);
    t.equal((await vodBody(target, bob.accessToken)).resumeAtS, 754, 'resume from the last report, before any flush');
    t.equal((await vodBody(target, carol.accessToken)).resumeAtS, null);
    let history = (await app.inject({ url: '/api/v1/me/history', headers: bearer(bob.accessToken) })).json();
    t.equal(history.items[0].vod.id, target);
    t.equal(history.items[0].positionS, 754);
    t.equal((await report(-1)).statusCode, 400);
    t.equal((await app.inject({ method: 'PUT', url: `/api/v1/me/history/${privateVideo}`, headers: bearer(bob.accessToken), payload: { positionS: 3 } })).statusCode, 403);

    t.equal((await app.inject({ method: 'PUT', url: '/api/v1/me/history-paused', headers: bearer(bob.accessToken), payload: { paused: true } })).json().paused, true);
    const other = await makeVideo(server, 'alice', { title: 'Watched while paused' });
    await app.inject({ method: 'PUT', url: `/api/v1/me/history/${other}`, headers: bearer(bob.accessToken), payload: { positionS: 30 } });
    history = (await app.inject({ url: '/api/v1/me/history', headers: bearer(bob.accessToken) })).json();
    t.equal(history.paused, true);
    t.notOk(history.items.some((i: { vod: { id: string } }) => i.vod.id === other), 'nothing recorded while paused');
    await app.inject({ method: 'PUT', url: '/api/v1/me/history-paused', headers: bearer(bob.accessToken), payload: { paused: false } });

    t.equal((await app.inject({ method: 'DELETE', url: '/api/v1/me/history', headers: bearer(bob.accessToken) })).statusCode, 204);
    history = (await app.inject({ url: '/api/v1/me/history', headers: bearer(bob.accessToken) })).json();
    t.same(history.items, []);
    t.equal((await vodBody(target, bob.accessToken)).resumeAtS, null, 'cleared');
  });

  t.test('webhook URLs that point inside are refused (WEBHOOK_ALLOW_PRIVATE off)', async (t) => {
    for (const url of ['https://127.0.0.1/hook', 'https://10.0.0.1/hook', 'https://localhost/hook', 'https://[::1]/hook', 'https://169.254.169.254/latest', 'https://[::ffff:10.0.0.1]/x']) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/channels/alice/webhooks', headers: bearer(alice.accessToken), payload: { url, events: ['stream.started'] } });
      t.equal(res.statusCode, 400, url);
      t.equal(res.json().error.code, 'WEBHOOK_URL_FORBIDDEN', url);
    }
    const plain = await app.inject({ method: 'POST', url: '/api/v1/channels/alice/webhooks', headers: bearer(alice.accessToken), payload: { url: 'http://example.com/hook', events: ['stream.started'] } });
    t.equal(plain.json().error.code, 'WEBHOOK_URL_INVALID', 'plain http refused');
    const notOwner = await app.inject({ method: 'POST', url: '/api/v1/channels/alice/webhooks', headers: bearer(bob.accessToken), payload: { url: 'https://example.com/hook', events: ['stream.started'] } });
    t.equal(notOwner.statusCode, 403);
    const none = (await app.inject({ url: '/api/v1/channels/alice/webhooks', headers: bearer(alice.accessToken) })).json();
    t.same(none.webhooks, [], 'nothing was stored');
  });
});
