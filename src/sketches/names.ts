// Sketch names and ids become file names in the sketches folder, so anything that could name a
// file elsewhere (or a hidden file the agent keeps for itself) is refused before it is used.

import { basename, dirname, resolve } from 'node:path';
import { CommandError } from '../errors.js';

/** Longest file name most Linux file systems accept, in bytes. */
const maxNameBytes = 255;

/** What makes `value` unfit as a sketch file name, said after the name's subject ("sketch id
 * ..."), or undefined when it is a plain, visible file name. The request schema (src/api.ts) and
 * the sketch store apply this one rule. */
export function fileNameProblem(value: string): string | undefined {
  const shown = JSON.stringify(value);
  if (value === '') return 'is empty';
  if (value.includes('\0')) return 'contains a NUL character';
  if (value.includes('/')) return `${shown} contains "/"`;
  if (value.includes('\\')) return `${shown} contains "\\"`;
  if (value.includes('..')) return `${shown} contains ".."`;
  // Dot-files are the agent's own (temporary downloads, the table's temp files).
  if (value.startsWith('.')) return `${shown} starts with "."`;
  if (/[\x00-\x1f\x7f]/.test(value)) return `${shown} contains a control character`;
  if (Buffer.byteLength(value) > maxNameBytes) return `is longer than ${maxNameBytes} bytes`;
  // An id goes into the topic B/sketches/<id>/stdout, where these are MQTT wildcards.
  if (/[+#]/.test(value)) return `${shown} contains "+" or "#"`;
  return undefined;
}

/** Throws a CommandError if `value` is not a plain, visible file name. `what` names it in the message. */
export function checkFileName(value: string, what = 'name'): void {
  if (typeof value !== 'string') throw new CommandError(`${what} is not a string`);
  const problem = fileNameProblem(value);
  if (problem) throw new CommandError(`${what} ${problem}`);
}

/** Whether `value` passes checkFileName. */
export function isFileName(value: string): boolean {
  return fileNameProblem(value) === undefined;
}

/** Absolute path of a sketch file inside sketchesDir; CommandError for anything that could leave it. */
export function sketchFilePath(sketchesDir: string, name: string): string {
  checkFileName(name, 'sketch name');
  const folder = resolve(sketchesDir);
  const path = resolve(folder, name);
  // Belt and braces: whatever slipped past the checks above must still land directly in the folder.
  if (dirname(path) !== folder || basename(path) !== name) {
    throw new CommandError(`sketch name ${JSON.stringify(name)} leaves the sketches folder`);
  }
  return path;
}
