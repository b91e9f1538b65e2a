// Text from outside (a request, a program's output, an error that quotes either) on its way into a
// log line or an answer: control characters, terminal escapes and lone surrogates are shown as
// escapes, so nothing a sender writes can start a forged log line or drive the reader's terminal.

/** C0 controls, DEL, C1 controls, the Unicode line and paragraph separators. */
const controls = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** A surrogate that is not half of a pair: it would be written as U+FFFD, hiding what was sent. */
const loneSurrogates = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string): string {
  return named[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `text` on one line, every control character escaped; at most `max` characters of it. */
export function escapeText(text: string, max = 8192): string {
  const cut = text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
  return cut.replace(controls, escapeChar).replace(loneSurrogates, escapeChar);
}

/** Like escapeText, but keeps line breaks and tabs: for multi-line text of the agent's own (apt's
 * output in an answer) that may carry a sender's or a program's escapes. */
export function escapeKeepingLines(text: string): string {
  return text.replace(controls, (char) => (char === '\n' || char === '\t' ? char : escapeChar(char))).replace(loneSurrogates, escapeChar);
}

/** A value from a request, quoted for a message: escaped and cut to `max` characters. */
export function quoteValue(value: string, max = 200): string {
  return `"${escapeText(value, max).replaceAll('"', '\\"')}"`;
}
