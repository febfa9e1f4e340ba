// hls.js ships its light build (no subtitles, alternate audio or DRM: Spillway needs none of them,
// and it is a third smaller) without a type file of its own; its API is the full build's.
declare module 'hls.js/light' {
  export { default } from 'hls.js';
}
