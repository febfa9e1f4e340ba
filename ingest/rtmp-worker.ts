// Child process entry (forked by WorkerSupervisor): runs node-media-server's RTMP sessions on
// sockets the parent accepted. NMS 4.4 throws from its socket 'data' handler on malformed input
// (a 13-byte AMF command after the handshake is enough to kill the process), so it lives here:
// RtmpConnection turns those throws into a dropped connection, and anything that still escapes
// takes down this process only, which the parent restarts.
//
// Only NMS's RTMP session classes are loaded (nms-modules.ts).
import { Socket } from 'node:net';
import type { LogFields, LogLevel, ParentMessage, WorkerMessage, WorkerOptions } from './ipc-protocol.ts';
import { isTagged, scrubSecrets } from './ipc-protocol.ts';
import { MediaPipeWriter } from './media-pipe.ts';
import { loadNms } from './nms-modules.ts';
import { RtmpConnection, type LiveStream } from './rtmp-connection.ts';

const MEDIA_FD = 4;

function send(message: WorkerMessage, done?: () => void): void {
  if (!process.connected || !process.send) return done?.();
  process.send(message, undefined, {}, () => done?.());
}

function log(level: LogLevel, msg: string, fields: LogFields = {}): void {
  send({ t: 'log', level, msg, fields });
}

function main(): void {
  const options = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions;
  const nms = loadNms();
  // NMS logs with console.log; its lines go to the parent's pino at debug level, scrubbed.
  nms.logger.log = (message: string) => log('debug', scrubSecrets(String(message)).slice(0, 500), { nms: true });

  // fd 4: the media pipe (worker-supervisor.ts opens it beside the IPC channel)
  const media = new MediaPipeWriter(new Socket({ fd: MEDIA_FD, readable: false, writable: true }));
  const connections = new Map<number, RtmpConnection>();
  const live = new Map<string, LiveStream>();

  process.on('message', (raw: unknown, handle: unknown) => {
    if (!isTagged(raw)) return;
    const message = raw as ParentMessage;
    switch (message.t) {
      case 'connection': {
        if (!(handle instanceof Socket)) return;
        const connection = new RtmpConnection(message.connId, handle, { nms, live, options, media, send, log });
        connections.set(message.connId, connection);
        handle.on('close', () => connections.delete(message.connId));
        break;
      }
      case 'publish-accepted':
        connections.get(message.connId)?.accept(message.publishId, message.token);
        break;
      case 'publish-refused':
        connections.get(message.connId)?.refuse(REFUSALS[message.reason]);
        break;
      case 'kick':
        connections.get(message.connId)?.destroy('kicked');
        break;
      case 'close':
        for (const connection of connections.values()) connection.destroy('ingest-closed');
        process.exit(0);
    }
  });
  // Without the parent there is nobody to check keys or receive events.
  process.on('disconnect', () => process.exit(0));
  send({ t: 'ready' });
}

// What the client is told (OBS and ffmpeg show it); never the key.
const REFUSALS = {
  'bad-app': 'Unknown application: publish to rtmp://HOST/live with your stream key',
  'bad-key': 'Stream key refused',
  'already-live': 'This channel is already live from another encoder',
  'verify-failed': 'Stream key could not be checked, try again',
  closing: 'Server is shutting down',
  'storage-quota': 'This channel has reached its recording storage limit: delete old VODs to stream again',
  suspended: 'This account is suspended',
  unverified: 'Verify your email address before streaming (see the link we sent you)',
} as const;

process.on('uncaughtException', (err) => {
  // Last words only: the process state is unknown, so exit and let the parent start a fresh one.
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  send({ t: 'log', level: 'error', msg: 'rtmp worker crashed', fields: { error: scrubSecrets(text).slice(0, 2000) } }, () => process.exit(1));
  setTimeout(() => process.exit(1), 1000).unref();
});

main();
