// A notification as the bell shows it: one line of text (rendered as text, never HTML) and the
// page it leads to. Pure, so the wording of every kind is pinned by a unit test.
import type { NotificationBody } from './api-types.ts';

const REPORTED: Record<string, string> = { channel: 'a channel', video: 'a video', 'chat-message': 'a chat message', comment: 'a comment' };
const OUTCOME: Record<string, string> = {
  dismissed: 'was reviewed; no action was taken',
  'content-deleted': 'was reviewed; the content was removed',
  'user-suspended': 'was reviewed; the account was suspended',
};

/** A notification as one line of text (never HTML) and where it leads (a report's outcome leads nowhere). */
export function notificationText(n: NotificationBody): { text: string; href: string | null } {
  if (n.kind === 'report' || !n.channel) {
    const r = n.report;
    const text = `Your report on ${REPORTED[r?.targetKind ?? ''] ?? 'something'} ${OUTCOME[r?.status ?? ''] ?? 'was reviewed'}`;
    return { text: r?.note ? `${text}: ${r.note}` : `${text}.`, href: null };
  }
  const who = n.channel.title ? `${n.channel.slug} (${n.channel.title})` : n.channel.slug;
  return n.kind === 'live'
    ? { text: `${who} is live`, href: `/c/${encodeURIComponent(n.channel.slug)}` }
    : { text: `${n.channel.slug} published ${n.videoTitle || 'a new video'}`, href: `/v/${n.subjectId}` };
}
