// video.js's m3u8-parser ships no type file; these are the parts of its manifest the tests read.
declare module 'm3u8-parser' {
  export interface M3u8Part {
    uri: string;
    duration: number;
    independent?: boolean;
  }
  export interface M3u8Segment {
    uri: string;
    duration: number;
    discontinuity?: boolean;
    map?: { uri: string };
    parts?: M3u8Part[];
  }
  export interface M3u8Manifest {
    version?: number;
    targetDuration?: number;
    partTargetDuration?: number;
    mediaSequence?: number;
    discontinuitySequence?: number;
    endList?: boolean;
    playlistType?: string;
    serverControl?: { canBlockReload?: boolean; partHoldBack?: number; canSkipUntil?: number };
    skip?: { skippedSegments: number };
    segments: M3u8Segment[];
    preloadSegment?: { parts?: M3u8Part[]; preloadHints?: Array<{ type: string; uri: string }> };
    renditionReports?: Array<{ uri: string; lastMsn?: number; lastPart?: number }>;
    playlists?: Array<{ uri: string; attributes: Record<string, unknown> }>;
  }
  export class Parser {
    manifest: M3u8Manifest;
    on(event: 'warn' | 'info', listener: (event: { message: string }) => void): void;
    push(chunk: string): void;
    end(): void;
  }
}
