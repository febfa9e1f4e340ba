// Tests read a live session the way the HTTP rooms do: through its read-only snapshot.
import type { LiveSessionView, RenditionSnapshot } from '../../packager/live-session-view.ts';

/** One rendition of a session as it stands now; undefined while there is no session. */
export function renditionNow(session: Pick<LiveSessionView, 'snapshot'> | undefined, name: string): RenditionSnapshot | undefined {
  return session?.snapshot().renditions.find((r) => r.name === name);
}
