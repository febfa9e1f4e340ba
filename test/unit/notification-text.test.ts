// The bell's line for each kind of notification: who went live, what was published, and what
// became of the user's report (with the moderator's note), always as plain text.
import t from 'tap';
import type { NotificationBody } from '../../web/src/api-types.ts';
import { notificationText } from '../../web/src/notification-text.ts';

const base = { id: 'n1', subjectId: '0b9f5c1e-2f55-4e39-9f53-4c1a1f1c2d3e', createdAt: '2026-11-30T18:00:00.000Z', read: false, videoTitle: null, report: null };

t.test('live and video notifications name the channel and lead to it', async (t) => {
  const channel = { slug: 'alice', title: 'Speedruns' };
  t.same(notificationText({ ...base, kind: 'live', channel } satisfies NotificationBody), { text: 'alice (Speedruns) is live', href: '/c/alice' });
  t.same(notificationText({ ...base, kind: 'video', channel, videoTitle: 'Any% in 12:04' }), { text: 'alice published Any% in 12:04', href: `/v/${base.subjectId}` });
  t.same(notificationText({ ...base, kind: 'video', channel: { slug: 'bob', title: '' } }), { text: 'bob published a new video', href: `/v/${base.subjectId}` });
});

t.test("a report's outcome says what was reported and what was done, with the note", async (t) => {
  const report = (status: string, targetKind: string, note: string): NotificationBody => ({ ...base, kind: 'report', channel: null, report: { status, targetKind, note } });
  t.same(notificationText(report('content-deleted', 'comment', 'Removed, thanks.')), { text: 'Your report on a comment was reviewed; the content was removed: Removed, thanks.', href: null });
  t.same(notificationText(report('dismissed', 'chat-message', '')), { text: 'Your report on a chat message was reviewed; no action was taken.', href: null });
  t.same(notificationText(report('user-suspended', 'channel', '')), { text: 'Your report on a channel was reviewed; the account was suspended.', href: null });
  t.same(notificationText(report('something-new', 'thing-new', '')), { text: 'Your report on something was reviewed.', href: null }, 'an outcome it does not know still reads as a sentence');
  t.equal(notificationText(report('dismissed', 'video', '<b>no</b>')).text, 'Your report on a video was reviewed; no action was taken: <b>no</b>', 'the note is text; the bell sets it as text');
});
