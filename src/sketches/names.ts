// Sketch names and ids become file names in the sketches folder, so anything that could name a
// file elsewhere (or a hidden file the agent keeps for itself) is refused before it is used.

import { basename, dirname, resolve } from 'node:path';
import { fileNameProblem } from '../api/fields.js';
import { InvalidError } from '../errors.js';

/** Throws an InvalidError if `value` is not a plain, visible file name. `what` names it in the message. */
export function checkFileName(value: string, what = 'name'): void {
  if (typeof value !== 'string') throw new InvalidError(`${what} is not a string`);
  const problem = fileNameProblem(value);
  if (problem) throw new InvalidError(`${what} ${problem}`);
}

/** Whether `value` passes checkFileName. */
export function isFileName(value: string): boolean {
  return fileNameProblem(value) === undefined;
}

/** Absolute path of a sketch file inside sketchesDir; InvalidError for anything that could leave it. */
export function sketchFilePath(sketchesDir: string, name: string): string {
  checkFileName(name, 'sketch name');
  const folder = resolve(sketchesDir);
  const path = resolve(folder, name);
  // Belt and braces: whatever slipped past the checks above must still land directly in the folder.
  if (dirname(path) !== folder || basename(path) !== name) {
    throw new InvalidError(`sketch name ${JSON.stringify(name)} leaves the sketches folder`);
  }
  return path;
}
