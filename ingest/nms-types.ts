// The few node-media-server 4.4 internals ingest/ touches. NMS ships no types; these shapes are
// checked against node_modules/node-media-server/src (session/rtmp_session.js, protocol/rtmp.js,
// server/broadcast_server.js, core/context.js, core/logger.js) and must be re-read on upgrade.
import type { Socket } from 'node:net';

/** One FLV tag as NMS parsed it (core/avpacket.js, protocol/flv.js parserTag). */
export interface NmsAvPacket {
  /** 8 audio, 9 video, 18 script data. */
  codec_type: number;
  /** FLV codec id (7 = H.264, 10 = AAC, 9 = audio ex-header), or an Enhanced RTMP FourCC as a uint32. */
  codec_id: number;
  /** 0 audio header, 1 audio, 2 video header, 3 keyframe, 4 inter frame, 5 metadata, 6 video metadata. */
  flags: number;
  dts: number;
  pts: number;
  size: number;
  data: Buffer;
}

export interface NmsStreamRequest {
  app: unknown;
  name: unknown;
  host: unknown;
  query: Record<string, unknown>;
}

interface NmsChunkHeader {
  type: number;
  length: number;
}

interface NmsChunkPacket {
  header: NmsChunkHeader;
  bytes: number;
  capacity: number;
}

/** protocol/rtmp.js: the chunk parser and command responder of one connection. */
export interface NmsRtmp {
  inChunkSize: number;
  /** Per chunk stream; `capacity` is the size of the payload buffer it keeps. */
  inPackets: Map<number, NmsChunkPacket>;
  parserPacket: NmsChunkPacket;
  streamId: number;
  onConnectCallback: (req: NmsStreamRequest) => void;
  onPushCallback: () => void;
  /** NMS 4.4 ignores it; a publisher sends it when it stops on purpose. */
  onDeleteStream(invokeMessage: unknown): void;
  onPlayCallback: () => void;
  onPacketCallback: (packet: NmsAvPacket) => void;
  packetAlloc(): void;
  respondPublish(): void;
  respondPlay(): void;
  sendStatusMessage(streamId: number, level: string, code: string, description: string): void;
}

/** session/rtmp_session.js. Its handlers are instance arrow functions that run() wires up. */
export interface NmsRtmpSession {
  readonly id: string;
  readonly socket: Socket;
  readonly rtmp: NmsRtmp;
  broadcast: NmsBroadcast;
  streamApp: string;
  streamName: string;
  streamPath: string;
  streamQuery: Record<string, unknown>;
  isPublisher: boolean;
  inBytes: number;
  // Filled from the publisher's onMetaData by BroadcastServer; whatever the client sent.
  videoCodec: unknown;
  videoWidth: unknown;
  videoHeight: unknown;
  videoFramerate: unknown;
  audioCodec: unknown;
  audioChannels: unknown;
  audioSamplerate: unknown;
  run(): void;
  onData(data: Buffer): void;
  onPush(): void;
  onPlay(): void;
  onPacket(packet: NmsAvPacket): void;
  close(): void;
}

/** server/broadcast_server.js: one stream path, its publisher, its players and its GOP cache. */
export interface NmsBroadcast {
  readonly streamPath: string;
  publisher: NmsRtmpSession | null;
  readonly subscribers: Map<string, NmsRtmpSession>;
  /** How long a disconnected publisher's slot is held for a resume from the same address. */
  publishGraceMs: number;
}

export interface NmsLogger {
  level: string;
  log(message: string, level?: string): void;
}

export interface NmsModules {
  Context: {
    config: Record<string, unknown>;
    sessions: Map<string, NmsRtmpSession>;
    broadcasts: Map<string, NmsBroadcast>;
  };
  RtmpSession: new (socket: Socket) => NmsRtmpSession;
  BroadcastServer: new (streamPath: string) => NmsBroadcast;
  logger: NmsLogger;
}
