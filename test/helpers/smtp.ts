// A real SMTP server for tests (the smtp-server package) on 127.0.0.1: it accepts every message,
// parses it with mailparser, and hands tests the mail that arrived for an address.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { until } from './media.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  raw: ParsedMail;
}

export interface TestSmtp {
  /** smtp://127.0.0.1:<port>, for SMTP_URL. */
  url: string;
  received: ReceivedMail[];
  /** The next mail to `address` not handed out before (waits for it, bounded). */
  nextMail(address: string, timeoutMs?: number): Promise<ReceivedMail>;
}

/** `port`: a given one (a test that starts the mail server late); by default one the OS picks. */
export async function startSmtp(t: Teardown, port = 0): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            raw: mail,
          });
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const bound = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${bound}`,
    received,
    async nextMail(address, timeoutMs = 15_000) {
      const mail = await until(() => received.find((m) => !taken.has(m) && m.to.includes(address.toLowerCase())), `a mail to ${address}`, timeoutMs);
      taken.add(mail);
      return mail;
    },
  };
}

/** The token in a mailed link (`…#token=<token>`). */
export function tokenFromMail(mail: ReceivedMail, path: string): string {
  const match = new RegExp(`${path.replace(/[/-]/g, '\\$&')}#token=([A-Za-z0-9_-]+)`).exec(mail.text);
  if (!match) throw new Error(`no ${path} link in the mail: ${mail.text}`);
  return match[1]!;
}
