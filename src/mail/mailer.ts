// Outgoing mail: the only importer of nodemailer. Over SMTP when SMTP_URL is set; otherwise each
// message is written to DATA_DIR/mail/ as an .eml file and its link logged, so a person running
// the embedded default can still reset a password. That log line is the one place a secret (the
// single-use link) is logged, on purpose and only in that local-only mode.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from '../log.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** The action the message carries (reset, verify); logged in file mode so a local user can follow it. */
  link?: string;
}

export interface Mailer {
  /** 'smtp' mail reaches people; 'file' mail only the machine's owner (no verification is asked for). */
  readonly kind: 'smtp' | 'file';
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

export interface MailerOptions {
  smtpUrl: string | null;
  from: string;
  dataDir: string;
  log: Logger;
}

export function createMailer(opts: MailerOptions): Mailer {
  return opts.smtpUrl ? smtpMailer(opts.smtpUrl, opts) : fileMailer(opts);
}

function smtpMailer(smtpUrl: string, opts: MailerOptions): Mailer {
  // Bounded: a mail server that stops answering must not hold a request or a shutdown for minutes.
  const transport = nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
  return {
    kind: 'smtp',
    async send(message) {
      const info = await transport.sendMail({ from: opts.from, to: message.to, subject: message.subject, text: message.text });
      opts.log.info({ messageId: info.messageId, subject: message.subject }, 'mail sent');
    },
    async close() {
      transport.close();
    },
  };
}

function fileMailer(opts: MailerOptions): Mailer {
  const dir = path.join(opts.dataDir, 'mail');
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'file',
    async send(message) {
      const info = await transport.sendMail({ from: opts.from, to: message.to, subject: message.subject, text: message.text });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      opts.log.info({ file, subject: message.subject, link: message.link }, 'mail written to a file (no SMTP_URL): follow its link from this machine');
    },
    async close() {},
  };
}
