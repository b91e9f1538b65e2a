// Whether a program is installed: the first executable file of that name in the PATH folders or
// at one of the extra paths given (system folders a service's PATH may lack, such as /usr/sbin).

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

export async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The program's path, or undefined when none is found. */
export async function findExecutable(name: string, extraPaths: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const folders = (env.PATH ?? '').split(delimiter).filter((folder) => isAbsolute(folder));
  for (const candidate of [...folders.map((folder) => join(folder, name)), ...extraPaths]) {
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
