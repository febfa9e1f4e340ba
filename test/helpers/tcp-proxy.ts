// A TCP relay on 127.0.0.1 in front of a real service (PostgreSQL, Redis), so a test can cut one
// node off from it, as a network fault would, and bring it back: cut() drops every connection and
// refuses new ones until restore().
import { connect, createServer, type Socket } from 'node:net';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
}

export async function startTcpProxy(t: Teardown, target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) return client.destroy();
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
  };
}
