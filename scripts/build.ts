// `npm run build`: the agent as a device runs it, bundled by esbuild into dist/.
//
// One bundle instead of ~250 module files (the agent's own and MQTT.js's dependencies) is what
// brings the idle agent to its memory target: every loaded module keeps its source, its
// compiled top level and the loader's bookkeeping for the life of the process (BENCHMARKS.md).
// Code that only some runs need (local mode's broker, the `call` client) goes into chunks loaded
// on first use. Packages with native parts stay outside the bundle and load from node_modules;
// the project's own addon (scripts/build-native.ts) is compiled into the bundle's folder.

import { build, type Plugin } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNativeAddons } from './build-native.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const binName = 'arduino-connector.js';

// node-pty is a native addon; dockerode (through ssh2) and dbus-next have optional native
// dependencies that esbuild cannot resolve, and both are imported only when first needed.
const external = ['node-pty', 'dockerode', 'dbus-next'];

// `debug` (used by MQTT.js and mqtt-packet) becomes a version whose disabled loggers cost nothing.
const quietDebug: Plugin = {
  name: 'quiet-debug',
  setup(build) {
    build.onResolve({ filter: /^debug$/ }, () => ({ path: join(root, 'scripts/quiet-debug.cts') }));
  },
};

/** Bundles the agent into `outdir` (emptied first); returns the path of the executable. */
export async function buildAgent(outdir = join(root, 'dist')): Promise<string> {
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: { [binName.replace(/\.js$/, '')]: 'src/cli/main.ts' },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external,
    plugins: [quietDebug],
    // Identifiers keep their names, so that stack traces in the log stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    // Bundled CommonJS packages call require() for node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  await buildNativeAddons(outdir);
  const bin = join(outdir, binName);
  await chmod(bin, 0o755);
  return bin;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildAgent();
