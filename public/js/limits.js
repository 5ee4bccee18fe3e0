// Sizes shared with the server (see API.md): checked here before a request
// is made, so the user hears about them at once.

export const MAX_TEXT = 4000;   // characters of a message, after trimming
export const PAGE = 50;         // history page size; `joined` carries the newest PAGE messages
export const JOIN_SINCE_MAX = 200;   // `joined` after `since` holds at most the newest this many (the largest page too)

/** Length in Unicode code points, as the server counts characters. */
export const codePoints = (s) => [...s].length;
