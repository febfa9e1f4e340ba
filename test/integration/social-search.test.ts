// Search on both databases: the real PostgreSQL and the embedded PGlite run the same queries on the
// same generated tsvector columns, so the same questions must get the same answers.
import t from 'tap';
import { bearer, makeVideo } from '../helpers/social.ts';
import { registerUser, startTestServer } from '../helpers/server-harness.ts';

const backends: Array<[string, Record<string, string>]> = [
  ['PostgreSQL', {}],
  // Empty DATABASE_URL and REDIS_URL: PGlite and the in-process bus, as `npm start` runs.
  ['PGlite', { DATABASE_URL: '', REDIS_URL: '' }],
];

for (const [name, env] of backends) {
  t.test(`search on ${name}`, async (t) => {
    const server = await startTestServer(t, env);
    const app = server.app;
    const mario = await registerUser(server, 'mariofan');
    await registerUser(server, 'painter');
    const search = async (query: string) => {
      const res = await app.inject({ url: `/api/v1/search?${query}` });
      return { status: res.statusCode, body: res.json() };
    };
    const titles = (body: { videos: Array<{ title: string }> }) => body.videos.map((v) => v.title).sort();

    t.equal((await app.inject({ method: 'PATCH', url: '/api/v1/channels/mariofan', headers: bearer(mario.accessToken), payload: { title: 'Speedruns every night', description: 'Kart racing and platformers' } })).statusCode, 200);
    const discovery = await app.inject({ method: 'PUT', url: '/api/v1/channels/mariofan/discovery', headers: bearer(mario.accessToken), payload: { tags: ['Retro Games', 'speedrun', 'speedrun'], category: 'gaming' } });
    t.same(discovery.json(), { tags: ['retro-games', 'speedrun'], category: 'gaming' }, 'tags normalised and distinct');
    const kart = await makeVideo(server, 'mariofan', { title: 'Mario Kart grand prix' });
    const wii = await makeVideo(server, 'mariofan', { title: 'Mario Kart Wii time trials' });
    await makeVideo(server, 'mariofan', { title: 'Speedrunning Odyssey' });
    await makeVideo(server, 'mariofan', { title: 'Hidden Kart practice', visibility: 'unlisted' });
    await makeVideo(server, 'mariofan', { title: 'Private Kart notes', visibility: 'private' });
    await makeVideo(server, 'painter', { title: 'Watercolour landscapes' });
    const tagged = await app.inject({ method: 'PUT', url: `/api/v1/vods/${kart}/discovery`, headers: bearer(mario.accessToken), payload: { description: 'All four cups, 150cc', tags: ['nintendo'] } });
    t.equal(tagged.statusCode, 200);
    t.equal((await app.inject({ method: 'PUT', url: `/api/v1/vods/${wii}/discovery`, headers: bearer((await registerUser(server, 'intruder')).accessToken), payload: { description: 'x', tags: [] } })).statusCode, 403);

    let r = await search('q=kart');
    t.equal(r.status, 200);
    t.same(titles(r.body), ['Mario Kart Wii time trials', 'Mario Kart grand prix'], 'only public videos, never unlisted or private ones');
    t.same(r.body.channels.map((c: { slug: string }) => c.slug), ['mariofan'], 'the channel, by its description');

    r = await search('q=speedr');
    t.same(titles(r.body), ['Speedrunning Odyssey'], 'the last word is a prefix: as-you-type');
    t.equal(r.body.channels[0]?.slug, 'mariofan', 'a channel by a prefix of its title or tag');

    r = await search(`q=${encodeURIComponent('"mario kart" -wii')}`);
    t.same(titles(r.body), ['Mario Kart grand prix'], 'web-search syntax: a phrase and an exclusion');

    r = await search('q=150cc');
    t.same(titles(r.body), ['Mario Kart grand prix'], 'found by its description');
    r = await search('q=nintendo');
    t.same(titles(r.body), ['Mario Kart grand prix'], 'found by its tag');
    r = await search('tag=nintendo&type=videos');
    t.same(titles(r.body), ['Mario Kart grand prix'], 'a tag filter alone');
    r = await search('q=mario%20kart%20grand');
    t.equal(r.body.videos[0]?.title, 'Mario Kart grand prix', 'ranked: the one matching every word first');
    r = await search('q=watercol&type=channels');
    t.same(r.body.videos, [], 'type=channels lists no videos');

    r = await search('category=gaming');
    t.same(r.body.channels.map((c: { slug: string }) => c.slug), ['mariofan']);
    t.same(r.body.videos, []);

    for (const bad of ['q=' + encodeURIComponent('&|!:*()<-> "" \' -'), 'q=%20%20', '']) {
      r = await search(bad);
      t.equal(r.status, 400, `refused: ${bad}`);
      t.equal(r.body.error.code, 'SEARCH_QUERY_INVALID');
    }
    r = await search(`q=${'a'.repeat(5000)}`);
    t.equal(r.status, 400, 'a 5,000-character query');
    t.equal(r.body.error.code, 'VALIDATION');
    r = await search('category=not-a-category');
    t.equal(r.status, 400);

    const categories = (await app.inject({ url: '/api/v1/categories' })).json();
    t.ok(categories.categories.some((c: { name: string; live: number }) => c.name === 'gaming' && c.live === 0), 'categories with their live counts');
    const channel = (await app.inject({ url: '/api/v1/channels/mariofan' })).json();
    t.same([channel.tags, channel.category], [['retro-games', 'speedrun'], 'gaming'], 'the channel body carries its tags and category');
  });
}
