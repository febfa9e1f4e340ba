// The bus carries one-to-many traffic that may cross processes: chat, stream online/offline,
// revocations. In-process by default, Redis when REDIS_URL is set. The same connection also keeps
// the small shared state nodes must agree on, behind their own interfaces: counters.ts and
// rate-limiter.ts.

export type Unsubscribe = () => Promise<void>;

export interface Bus {
  /** Delivers `message` (JSON-serialisable) to every subscriber of `topic` on every node, in publish order. */
  publish(topic: string, message: unknown): Promise<void>;
  /** Resolves once the subscription is active, so a publish after it is seen. */
  subscribe(topic: string, handler: (message: unknown) => void): Promise<Unsubscribe>;
  /** Throws when the backing service is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
