// Chat on a real server as main.ts builds it, and a small `ws` client that records every frame it receives so tests can
// wait for one.
import WebSocket from 'ws';
import type { ConfigVar } from '../../src/config.ts';
import type { ChatHandle } from '../../chat/register-chat.ts';
import { startTestServer, type TestServer } from './server-harness.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface ChatServer {
  server: TestServer;
  chat: ChatHandle;
  base: string;
  connect(slug: string): Promise<ChatClient>;
}

export async function startChatServer(t: Teardown, env: Partial<Record<ConfigVar, string>> = {}): Promise<ChatServer> {
  const server = await startTestServer(t, env);
  const chat = server.chat;
  const base = await server.listen();
  const clients: ChatClient[] = [];
  t.teardown(() => clients.forEach((c) => c.ws.terminate()));
  return {
    server,
    chat,
    base,
    async connect(slug) {
      const client = await ChatClient.connect(`${base.replace(/^http/, 'ws')}/chat/${slug}`);
      clients.push(client);
      return client;
    },
  };
}

// Frames as the client sees them: parsed JSON, checked by the test's assertions.
export type Frame = { type: string } & Record<string, any>;

export class ChatClient {
  readonly frames: Frame[] = [];
  /** How many `batch` frames arrived. */
  batches = 0;
  closeInfo: { code: number; reason: string } | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    // A busy room sends several frames as one `batch`: record them one by one, in order.
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.type === 'batch') {
        this.batches++;
        this.frames.push(...(frame.frames as Frame[]));
      } else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: String(reason) };
        resolve(this.closeInfo);
      }),
    );
    ws.on('error', () => {}); // the close event reports what a user would see
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<ChatClient> {
    const ws = new WebSocket(url, { headers });
    const client = new ChatClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    await client.waitFor((f) => f.type === 'welcome', 'the welcome frame');
    return client;
  }

  get welcome(): Frame {
    return this.frames.find((f) => f.type === 'welcome')!;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame matching `match` received at or after index `from` (the bound is for a loaded CI machine; a frame normally comes in milliseconds). */
  async waitFor(match: (f: Frame) => boolean, what: string, from = 0, timeoutMs = 15_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(from).slice(-5))}`);
      if (this.closeInfo) throw new Error(`socket closed (${this.closeInfo.code}) while waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Sends a frame and waits for the first reply matching `match`. */
  async request(frame: unknown, match: (f: Frame) => boolean, what: string): Promise<Frame> {
    const mark = this.frames.length;
    this.send(frame);
    return this.waitFor(match, what, mark);
  }

  auth(token: string): Promise<Frame> {
    return this.request({ type: 'auth', token }, (f) => f.type === 'authed' || f.type === 'error', 'the auth reply');
  }

  /** Posts and returns the ack or the error frame. */
  post(text: string): Promise<Frame> {
    const nonce = Math.random().toString(36).slice(2);
    return this.request({ type: 'post', text, nonce }, (f) => (f.type === 'ack' || f.type === 'error') && f.nonce === nonce, `the reply to "${text.slice(0, 20)}"`);
  }

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === 'message').map((f) => f.message);
  }
}
