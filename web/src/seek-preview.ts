// Seek-preview thumbnails: the VOD's WebVTT track maps stretches of the timeline to tiles of a
// sprite sheet (`sprite.jpg#xywh=x,y,w,h`).
export interface PreviewCue {
  from: number;
  to: number;
  image: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

function seconds(stamp: string): number {
  const parts = stamp.trim().split(':').map(Number);
  return parts.reduce((total, p) => total * 60 + p, 0);
}

/** Parses the thumbnails track; image URLs are resolved against the track's URL. */
export function parsePreviewTrack(text: string, trackUrl: string): PreviewCue[] {
  const cues: PreviewCue[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const timing = /^([\d:.]+)\s+-->\s+([\d:.]+)/.exec(lines[i]!);
    const target = lines[i + 1];
    if (!timing || !target) continue;
    const m = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(target.trim());
    if (!m) continue;
    cues.push({
      from: seconds(timing[1]!),
      to: seconds(timing[2]!),
      image: new URL(m[1]!, new URL(trackUrl, location.href)).href,
      x: Number(m[2]),
      y: Number(m[3]),
      w: Number(m[4]),
      h: Number(m[5]),
    });
  }
  return cues;
}

export async function loadPreviewTrack(url: string): Promise<PreviewCue[]> {
  const res = await fetch(url);
  if (!res.ok) return [];
  return parsePreviewTrack(await res.text(), url);
}

export function cueAt(cues: PreviewCue[], time: number): PreviewCue | null {
  return cues.find((c) => time >= c.from && time < c.to) ?? cues.at(-1) ?? null;
}

/** Shows `cue` in `box` (a fixed-size element) as a cropped background. */
export function showCue(box: HTMLElement, cue: PreviewCue): void {
  box.style.width = `${cue.w}px`;
  box.style.height = `${cue.h}px`;
  box.style.backgroundImage = `url("${cue.image.replace(/["\\]/g, encodeURIComponent)}")`;
  box.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
}
