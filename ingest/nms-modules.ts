// Loads the node-media-server 4.4 classes the RTMP worker runs (see nms-types.ts for their shapes).
// Only the RTMP session classes, not NodeMediaServer: its constructor always opens a JSON store
// under ./data and starts a rate sampler, run() starts the HTTP/admin, notify, record and relay
// servers, and NodeRtmpServer calls process.exit(1) when its port is taken.
import { createRequire } from 'node:module';
import type { NmsModules } from './nms-types.ts';

export function loadNms(): NmsModules {
  const require = createRequire(import.meta.url);
  const src = 'node-media-server/src/';
  // Every NMS Rtmp (one per connection, from the first byte) makes a `new Flv()`, whose constructor
  // zero-fills a 1 MiB FLV tag buffer that RTMP never uses (it parses tags with the static
  // Flv.parserTag). A burst of 300 idle sockets cost the worker 300 MiB and ~200 ms of blocked event
  // loop, and glibc kept the RSS after they closed. Construct bare instances instead; the class's
  // static methods, which RTMP and BroadcastServer do use, pass through. Must run before rtmp.js loads.
  const flvPath = require.resolve(`${src}protocol/flv.js`);
  const Flv = require(flvPath) as new () => object;
  const cached = require.cache[flvPath];
  if (cached && cached.exports === Flv) {
    cached.exports = new Proxy(Flv, { construct: () => Object.create(Flv.prototype) as object });
  }
  return {
    Context: require(`${src}core/context.js`) as NmsModules['Context'],
    RtmpSession: require(`${src}session/rtmp_session.js`) as NmsModules['RtmpSession'],
    BroadcastServer: require(`${src}server/broadcast_server.js`) as NmsModules['BroadcastServer'],
    logger: require(`${src}core/logger.js`) as NmsModules['logger'],
  };
}
