// Field rules that several commands share. They run before any handler, so a handler never sees a
// name that could leave its folder, an option where a package name belongs, or a URL path escape.

import { quoteValue } from '../text.js';
import { str, ValidationError, type Schema } from './schema.js';

const utf8 = new TextEncoder();

/** Longest file name most Linux file systems accept, in bytes. */
const maxNameBytes = 255;

/** What makes `value` unfit as a sketch file name, said after the name's subject ("sketch id
 * ..."), or undefined when it is a plain, visible file name. The request schema and the sketch store
 * apply this one rule. */
export function fileNameProblem(value: string): string | undefined {
  const shown = quoteValue(value);
  if (value === '') return 'is empty';
  if (value.includes('\0')) return 'contains a NUL character';
  if (value.includes('/')) return `${shown} contains "/"`;
  if (value.includes('\\')) return `${shown} contains "\\"`;
  if (value.includes('..')) return `${shown} contains ".."`;
  // Dot-files are the agent's own (temporary downloads, the table's temp files).
  if (value.startsWith('.')) return `${shown} starts with "."`;
  if (/[\x00-\x1f\x7f]/.test(value)) return `${shown} contains a control character`;
  // TextEncoder, not Buffer: the web console validates with this map in the browser.
  if (utf8.encode(value).length > maxNameBytes) return `is longer than ${maxNameBytes} bytes`;
  // An id goes into the topic B/sketches/<id>/stdout, where these are MQTT wildcards.
  if (/[+#]/.test(value)) return `${shown} contains "+" or "#"`;
  return undefined;
}

/** Sketch names and ids are file names in the sketches folder: nothing that could leave it, no
 * hidden file, nothing that breaks the topic B/sketches/<id>/stdout (fileNameProblem, applied
 * before any handler runs). */
export const fileName: Schema<string> = {
  parse(value, at) {
    const text = str({ min: 1, max: 1024 }).parse(value, at);
    const problem = fileNameProblem(text);
    if (problem) throw new ValidationError(`${at}: not a plain file name (${problem})`);
    return text;
  },
};

/** Debian's package-name grammar, optionally `:arch`, then `=version` or `/release`. A leading
 * "-" can never match, so option injection into apt-get is impossible by construction. */
export const packageName = str({
  min: 1,
  max: 256,
  pattern: /^[a-z0-9][a-z0-9+.-]*(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:_-]+|\/[A-Za-z0-9.+~_-]+)?$/,
  patternText: 'is not a Debian package name (lower-case letters, digits, "+", "-", "."; optional =version or /release)',
});

/** One line of an apt sources file: a field must not be able to start another line. */
export const sourcesField = (max = 1024) => str({ max, pattern: /^[^\n\r\0]*$/, patternText: 'must not contain a newline or NUL' });

/** A container as the engine names it: its id (or a prefix) or its name. These end up in the
 * engine's URL paths, so nothing that could leave `/containers/<id>/` gets through. */
export const containerRef = str({
  min: 1,
  max: 256,
  pattern: /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
  patternText: 'must be a container id or name (letters, digits, "_", ".", "-")',
});

/** An image reference (`[registry[:port]/]repository[:tag][@digest]`); the engine checks the rest. */
export const imageRef = str({
  min: 1,
  max: 512,
  pattern: /^(?!.*\.\.)(?!.*\/\/)[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/,
  patternText: 'must be an image reference such as registry:5000/name:tag',
});

export const httpUrl = str({ min: 1, max: 4096, pattern: /^https?:\/\/[^\s]+$/i, patternText: 'must be an http:// or https:// URL' });
