// A real logger (src/log.ts, redaction included) whose lines are kept in memory, so a test can check
// what was logged and at which level.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.ts';

export interface CapturedLog {
  log: Logger;
  /** everything written so far, as pino wrote it */
  text(): string;
  /** the lines written so far, parsed */
  lines(): Array<{ level: number; msg: string } & Record<string, unknown>>;
}

export function captureLog(level: string): CapturedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const text = () => chunks.join('');
  return {
    log: createLogger(level, sink),
    text,
    lines: () => text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string }),
  };
}
