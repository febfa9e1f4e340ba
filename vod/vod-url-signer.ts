// Signed, expiring URLs for private VOD media: an HMAC of the VOD's path prefix and the expiry.
// One signature covers every file of the VOD, so the playlists can pass it on to what they name.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export class VodUrlSigner {
  private readonly key: Buffer;

  /** `secret` is a server key; a purpose-specific key is derived from it so the two never mix. */
  constructor(secret: Buffer, private readonly now: () => number = Date.now) {
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'spillway vod-url', 32));
  }

  /** `?exp=…&sig=…` valid for `ttlS` seconds for every file under `/vod/<id>/`. */
  sign(vodId: string, ttlS: number): string {
    const exp = Math.floor(this.now() / 1000) + ttlS;
    return `exp=${exp}&sig=${this.mac(vodId, exp)}`;
  }

  verify(vodId: string, exp: unknown, sig: unknown): boolean {
    if (typeof exp !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(exp)) return false;
    if (Number(exp) * 1000 < this.now()) return false;
    const expected = Buffer.from(this.mac(vodId, Number(exp)));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(vodId: string, exp: number): string {
    return createHmac('sha256', this.key).update(`/vod/${vodId}/\n${exp}`).digest('base64url');
  }
}
