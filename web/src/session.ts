// The signed-in session, shared by every tab through localStorage. Refresh tokens rotate and a
// reused one signs the whole login out, so refreshing is serialised across tabs (Web Locks) and a
// tab that waited re-reads the storage: another tab may already have refreshed.
export interface User {
  id: string;
  username: string;
  email: string;
  /** Instance role; absent in sessions stored before roles existed. */
  role?: 'user' | 'moderator' | 'admin';
  emailVerified?: boolean;
}

interface Stored {
  user: User;
  accessToken: string;
  /** ms since epoch */
  accessExpiresAt: number;
  refreshToken: string;
}

export interface SessionBody {
  user: User;
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

const KEY = 'spillway.session';
// Refresh this long before the access token expires, so a request never races the expiry.
const EARLY_MS = 60_000;

function read(): Stored | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Stored) : null;
  } catch {
    return null;
  }
}

const listeners = new Set<() => void>();
window.addEventListener('storage', (e) => {
  if (e.key === KEY) for (const fn of listeners) fn();
});

export const session = {
  user(): User | null {
    return read()?.user ?? null;
  },

  save(body: SessionBody): void {
    const stored: Stored = { user: body.user, accessToken: body.accessToken, accessExpiresAt: Date.now() + body.expiresIn * 1000, refreshToken: body.refreshToken };
    localStorage.setItem(KEY, JSON.stringify(stored));
    for (const fn of listeners) fn();
  },

  clear(): void {
    localStorage.removeItem(KEY);
    for (const fn of listeners) fn();
  },

  onChange(fn: () => void): () => void {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },

  refreshToken(): string | null {
    return read()?.refreshToken ?? null;
  },

  /** A usable access token (refreshed if it is about to expire), or null when signed out. */
  async accessToken(forceRefresh = false): Promise<string | null> {
    const current = read();
    if (!current) return null;
    if (!forceRefresh && current.accessExpiresAt - EARLY_MS > Date.now()) return current.accessToken;
    return withLock(async () => {
      const now = read();
      if (!now) return null;
      // Another tab refreshed while this one waited for the lock.
      if (now.refreshToken !== current.refreshToken && now.accessExpiresAt - EARLY_MS > Date.now()) return now.accessToken;
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: now.refreshToken }),
      }).catch(() => null);
      if (!res) return now.accessToken; // offline: let the request fail on its own
      if (!res.ok) {
        session.clear();
        return null;
      }
      const body = (await res.json()) as SessionBody;
      session.save(body);
      return body.accessToken;
    });
  },
};

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? (locks.request('spillway.refresh', fn) as Promise<T>) : fn();
}
