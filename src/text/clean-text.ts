// The one cleaning every piece of user-written text goes through before it is stored and shown to
// others: chat messages, channel titles and descriptions (and comments, when they come). Pure:
// string in, string out.
//
// What is removed, decided per Unicode category, and why:
// - Cc controls: dropped. Line breaks (CR, LF, CRLF, VT, FF, NEL U+0085, and the Zl / Zp
//   separators U+2028 / U+2029) become one space in single-line text (chat, titles) and "\n" in
//   multi-line text (descriptions); a tab becomes a space in single-line text and is kept in
//   multi-line text.
// - Cf format characters and every other Default_Ignorable_Code_Point: dropped. They are invisible,
//   so they only serve to fake emptiness (U+3164 Hangul filler, U+200B, U+FEFF), to dodge word
//   filters ("fr\u200Bee"), to smuggle hidden text (tag characters) or to reorder what others
//   see (all bidi controls, including U+061C, LRM/RLM, embeddings, overrides and isolates:
//   clients isolate each message with dir="auto" instead). Exceptions, kept only where they do
//   their job:
//   · ZWJ U+200D between two pictographs (👨‍👩‍👧, 🏳️‍🌈, 👩🏽‍💻), and after a letter or mark of a script
//     that writes with joiners (Devanagari conjuncts, Malayalam chillu, Sinhala, Arabic), never
//     after Latin, Greek, Cyrillic or Common characters, where it has no orthographic use;
//   · ZWNJ U+200C after a letter or mark of such a script (Persian, the Indic scripts);
//   · one variation selector right after a visible base character (❤️ vs ❤︎, CJK variants);
//     a second one, or one after a space, is dropped (runs of them hide data after one emoji);
//   · tag characters U+E0020–E007F only directly after 🏴 U+1F3F4 (subdivision flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿);
//   · the visible prepended concatenation marks (U+0600–0605, U+06DD, U+070F, U+0890–0891, U+08E2,
//     U+110BD, U+110CD: Arabic number signs and the like), which are Cf but print.
// - Lone surrogates and noncharacters: dropped (they cannot be stored as valid UTF-8).
// - Everything else, including private-use and not-yet-assigned code points (new emoji), is kept.
// The result is trimmed of leading and trailing white space.

export interface CleanTextOptions {
  /** Keep line breaks (as "\n") and tabs: for descriptions. Default: fold them to spaces. */
  multiline?: boolean;
}

const LINE_BREAK = /\r\n?|[\n\v\f\u0085\u2028\u2029]/g;
const ZWJ = 0x200d;
const ZWNJ = 0x200c;
const BLACK_FLAG = 0x1f3f4;
const CONTROL = /^\p{Cc}$/u;
const INVISIBLE = /^[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Cs}\p{Noncharacter_Code_Point}]$/u;
const VARIATION_SELECTOR = /^\p{Variation_Selector}$/u;
const PICTOGRAPH = /^\p{Extended_Pictographic}$/u;
// What may stand before the ZWJ of an emoji sequence: the pictograph, its VS16 or its skin tone.
const PICTOGRAPH_END = /^[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F]$/u;
const JOINING_SCRIPT_CHAR = /^[\p{L}\p{M}]$/u;
const NON_JOINING_SCRIPT = /^[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Common}\p{Script=Inherited}]$/u;
const VISIBLE_CF = new Set([0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x6dd, 0x70f, 0x890, 0x891, 0x8e2, 0x110bd, 0x110cd]);

export function cleanText(raw: string, options: CleanTextOptions = {}): string {
  const multiline = options.multiline ?? false;
  const input = Array.from(raw.replace(LINE_BREAK, '\n'));
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    const cp = ch.codePointAt(0)!;
    const prev = out.at(-1);
    if (ch === '\n' || ch === '\t') {
      if (multiline) out.push(ch);
      else if (prev !== ' ') out.push(' '); // a run of breaks folds to one space, as before
    } else if (CONTROL.test(ch)) {
      continue;
    } else if (cp === ZWJ) {
      if (prev !== undefined && ((PICTOGRAPH_END.test(prev) && PICTOGRAPH.test(input[i + 1] ?? '')) || writesWithJoiners(prev))) out.push(ch);
    } else if (cp === ZWNJ) {
      if (prev !== undefined && writesWithJoiners(prev)) out.push(ch);
    } else if (VARIATION_SELECTOR.test(ch)) {
      if (prev !== undefined && isVisibleBase(prev)) out.push(ch);
    } else if (cp >= 0xe0020 && cp <= 0xe007f) {
      if (prev !== undefined && (prev.codePointAt(0) === BLACK_FLAG || isTag(prev))) out.push(ch);
    } else if (INVISIBLE.test(ch) && !VISIBLE_CF.has(cp)) {
      continue;
    } else {
      out.push(ch);
    }
  }
  return out.join('').trim();
}

function writesWithJoiners(ch: string): boolean {
  return JOINING_SCRIPT_CHAR.test(ch) && !NON_JOINING_SCRIPT.test(ch);
}

function isVisibleBase(ch: string): boolean {
  return !/^\s$/u.test(ch) && !VARIATION_SELECTOR.test(ch) && ch.codePointAt(0) !== ZWJ && ch.codePointAt(0) !== ZWNJ && !isTag(ch);
}

function isTag(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  return cp >= 0xe0020 && cp <= 0xe007f;
}
