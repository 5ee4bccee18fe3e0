// Sizes shared with the server (see API.md): checked here before a request
// is made, so the user hears about them at once.

export const MAX_TEXT = 4000;   // characters of a message, after trimming
export const PAGE = 50;         // history page size; `joined` carries the newest PAGE messages
export const JOIN_SINCE_MAX = 200;   // `joined` after `since` holds at most the newest this many (the largest page too)

/** Length in Unicode code points, as the server counts characters. */
export const codePoints = (s) => [...s].length;

// East Asian Wide and Fullwidth ranges (Unicode EastAsianWidth W/F, the
// letters and digits among them): such a character counts as two toward the
// username minimum, as on the server (src/core/text.c).
const WIDE_RANGES = [
  [0x1100, 0x115F], [0x2E80, 0x303E], [0x3041, 0x33FF], [0x3400, 0x4DBF], [0x4E00, 0x9FFF],
  [0xA000, 0xA4CF], [0xA960, 0xA97F], [0xAC00, 0xD7A3], [0xF900, 0xFAFF], [0xFE30, 0xFE4F],
  [0xFF00, 0xFF60], [0xFFE0, 0xFFE6], [0x16FE0, 0x18CFF], [0x1B000, 0x1B2FF],
  [0x20000, 0x2FFFD], [0x30000, 0x3FFFD],
];

const isWide = (cp) => WIDE_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi);

/**
 * Whether a username passes the server's rule as far as the page can tell:
 * on its NFKC form, letters and digits of any script plus _ . -, at most 32
 * code points, and a width of at least 3 where a wide East Asian character
 * counts as two (张三 is fine, ab is not). The server has the last word.
 */
export function usernameOk(name) {
  const n = name.normalize('NFKC');
  if (!/^[\p{L}\p{M}\p{N}_.-]+$/u.test(n)) return false;
  const cps = [...n];
  if (cps.length > 32) return false;
  let width = 0;
  for (const c of cps) width += isWide(c.codePointAt(0)) ? 2 : 1;
  return width >= 3;
}
