// The text cleaning shared by chat, channel titles and descriptions: what a reader sees is what
// was written, minus what is invisible or reorders other people's text.
import t from 'tap';
import { cleanText } from '../../src/text/clean-text.ts';

const FAMILY = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}'; // 👨‍👩‍👧
const RAINBOW_FLAG = '\u{1F3F3}\uFE0F\u200D\u{1F308}'; // 🏳️‍🌈
const TECHNOLOGIST = '\u{1F469}\u{1F3FD}\u200D\u{1F4BB}'; // 👩🏽‍💻
const SCOTLAND = '\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}'; // 🏴󠁧󠁢󠁳󠁣󠁴󠁿
const RED_HEART = '\u2764\uFE0F'; // ❤️

t.test('single-line: controls and line breaks', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['  hello\u0007 \u202Eworld\n ', 'hello world', 'C0 control and RLO dropped, newline folded, trimmed'],
    ['a\r\nb\rc\nd', 'a b c d', 'CRLF, CR, LF'],
    ['one\u2028two\u2029three', 'one two three', 'Zl and Zp fold to spaces too'],
    ['x\u0085y\u000Bz\u000Cw', 'x y z w', 'NEL, VT, FF'],
    ['tab\there', 'tab here', 'a tab is a space'],
    ['a\n\n\n\nb', 'a b', 'a run of breaks is one space'],
    ['\u0000\u001F\u007F\u0080\u009F', '', 'C0, DEL, C1'],
  ];
  for (const [input, expected, why] of cases) t.equal(cleanText(input), expected, why);
});

t.test('invisible format characters and bidi controls are dropped', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['\u061C123', '123', 'U+061C Arabic letter mark'],
    ['a\u200Eb\u200Fc', 'abc', 'LRM, RLM'],
    ['\u202A\u202B\u202C\u202D\u202Ex', 'x', 'embeddings and overrides'],
    ['\u2066\u2067\u2068\u2069x', 'x', 'isolates'],
    ['fr\u200Bee', 'free', 'U+200B zero width space'],
    ['\uFEFFhi', 'hi', 'U+FEFF byte order mark'],
    ['a\u2060b\u2061c\u00ADd', 'abcd', 'word joiner, invisible function application, soft hyphen'],
    ['\u3164', '', 'U+3164 Hangul filler (a "blank" message)'],
    ['\u200D', '', 'a ZWJ alone'],
    ['f\u200Dr\u200Ce\u200De', 'free', 'ZWJ and ZWNJ between Latin letters'],
    ['\u{E0041}\u{E0042}hidden', 'hidden', 'tag characters outside a flag (hidden ASCII)'],
    ['\uD800x\uDFFF', 'x', 'lone surrogates'],
    ['a\uFFFEb\uFDD0c', 'abc', 'noncharacters'],
  ];
  for (const [input, expected, why] of cases) t.equal(cleanText(input), expected, why);
});

t.test('emoji sequences keep their joiners and selectors', async (t) => {
  for (const emoji of [FAMILY, RAINBOW_FLAG, TECHNOLOGIST, SCOTLAND, RED_HEART, '\u2764\uFE0F\u200D\u{1F525}']) {
    t.equal(cleanText(`hi ${emoji}!`), `hi ${emoji}!`, JSON.stringify(emoji));
  }
  t.equal(cleanText('\u{1F468}\u200D!'), '\u{1F468}!', 'a ZWJ after a pictograph but before punctuation goes');
  t.equal(cleanText(`\u{1F600}\uFE0F\uFE0F\uFE0E\uFE0F`), '\u{1F600}\uFE0F', 'one variation selector per base; runs that could hide data go');
  t.equal(cleanText('\uFE0Fa \uFE0Fb'), 'a b', 'a variation selector with no base goes');
  t.equal(cleanText('\u845B\u{E0100}'), '\u845B\u{E0100}', 'an ideographic variation selector after its base stays');
});

t.test('scripts that write with joiners keep them', async (t) => {
  const cases: Array<[string, string]> = [
    ['\u0915\u094D\u200D\u0937', 'Devanagari half form (KA VIRAMA ZWJ SSA)'],
    ['\u0D28\u0D4D\u200D \u0D05', 'Malayalam chillu before a space'],
    ['\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645', 'Persian ZWNJ (می‌خواهم)'],
    ['\u0DC1\u0DCA\u200D\u0DBB', 'Sinhala yansaya'],
  ];
  for (const [input, why] of cases) t.equal(cleanText(input), input, why);
});

t.test('visible text is untouched', async (t) => {
  for (const text of ['plain ASCII', 'é'.repeat(10), 'مرحبا بالعالم', '日本語', '\u{E000} private use', '\u0600\u0661\u0662 Arabic number sign', 'a\u0301 combining accent']) {
    t.equal(cleanText(text), text, text);
  }
});

t.test('multiline keeps line breaks and tabs, normalised to \\n', async (t) => {
  t.equal(cleanText('Line one\r\nLine two\u2028Line three\u2029\tindented\u0007', { multiline: true }), 'Line one\nLine two\nLine three\n\tindented');
  t.equal(cleanText('\n\n  body \n', { multiline: true }), 'body', 'trimmed at both ends');
  t.equal(cleanText('a\u202Eb\u200Bc', { multiline: true }), 'abc', 'the same invisible characters go');
});
