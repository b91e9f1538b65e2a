// The agent's version, taken from package.json when the bundle is built (esbuild inlines the
// JSON): an installed agent never reads a package.json from disk to learn what it is.

import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;
