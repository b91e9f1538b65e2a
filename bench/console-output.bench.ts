// The web console under live output (issue 14): three real agents each run a signed sketch that
// prints a line every 20 ms; three pages of one chromium each follow one sketch in its terminal.
// Measured: each page's JS heap (after a forced collection) once the terminals are up, and after
// BENCH_CONSOLE_OUTPUT_MINUTES (default 10) of output.

import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { startConsoleServer } from '../src/console/server.js';
import { startTestAgent, type TestAgent } from '../test/helpers/agent.js';
import { buildConsole, launchChromium } from '../test/helpers/console.js';
import { startHttpServer } from '../test/helpers/http-server.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { freePort } from '../test/helpers/net.js';
import { makeKeyPair, signFile } from '../test/helpers/signing.js';
import { tempDir } from '../test/helpers/tmp.js';
import type { BenchResult } from './types.js';

const run = promisify(execFile);
const MINUTES = Number(process.env.BENCH_CONSOLE_OUTPUT_MINUTES ?? 10);

const talker = `#include <stdio.h>
#include <time.h>
int main(void) {
  struct timespec pause = { 0, 20 * 1000 * 1000 };
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (unsigned long i = 0;; i++) {
    printf("line %lu: the quick brown fox jumps over the lazy dog\\n", i);
    nanosleep(&pause, NULL);
  }
}
`;

async function heapMiB(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  return (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN) / 2 ** 20;
}

export default async function consoleOutputBench(): Promise<BenchResult[]> {
  const work = await tempDir('ac-bench-console-output-');
  const www = join(work.path, 'www');
  await mkdir(www);
  const app = join(work.path, 'app');
  const wsPort = await freePort();
  const [broker, keys] = await Promise.all([
    startMosquitto({ extraConfig: [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] }),
    makeKeyPair(work.path),
    buildConsole(app),
  ]);
  await writeFile(join(work.path, 'talker.c'), talker);
  await run('gcc', ['-O2', '-o', join(www, 'talker'), join(work.path, 'talker.c')]);
  await signFile(keys.privateKeyPath, join(www, 'talker'));
  const http = await startHttpServer({ folder: www });
  const agents: TestAgent[] = [];
  const results: BenchResult[] = [];
  try {
    // Sketch output has no daily budget (issue 13): the page gets the whole stream.
    for (let i = 0; i < 3; i++) agents.push(await startTestAgent(broker.url, { id: `talker-${i}`, signature_key: keys.publicKeyPath }));
    const server = await startConsoleServer({ root: app, port: 0, config: { brokerUrl: `ws://127.0.0.1:${wsPort}`, baseTopic: '$aws/things/{id}', staleAfterSeconds: 45, answerTimeoutSeconds: 60 } });
    const browser = await launchChromium();
    try {
      const pages: Page[] = [];
      for (const a of agents) {
        const reply = await a.client.call('upload', { id: 'talker', name: 'talker', url: http.url('/talker') }, 30_000);
        if (!reply.ok) throw new Error(`upload: ${reply.message}`);
        const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
        await page.goto(`${server.url}#/device/${a.settings.id}`);
        await page.locator('tr[data-sketch="talker"]').getByRole('button', { name: 'terminal' }).click({ timeout: 30_000 });
        await page.locator('[data-testid="terminal"] .xterm-rows').filter({ hasText: /line \d+/ }).waitFor({ timeout: 30_000 });
        pages.push(page);
      }
      await new Promise((r) => setTimeout(r, 10_000));
      const start = await Promise.all(pages.map(heapMiB));
      await new Promise((r) => setTimeout(r, MINUTES * 60_000));
      const end = await Promise.all(pages.map(heapMiB));
      // Still live at the end: each terminal's text changes within a second.
      for (const page of pages) {
        const rows = page.locator('[data-testid="terminal"] .xterm-rows');
        const before = await rows.innerText();
        await new Promise((r) => setTimeout(r, 1000));
        if ((await rows.innerText()) === before) throw new Error('a terminal stopped updating');
      }
      results.push({ name: 'page JS heap with a live terminal, after 10 s (max of 3 pages)', value: Math.max(...start), unit: 'MiB' });
      results.push({ name: `page JS heap after ${MINUTES} min of output, 50 lines/s (max of 3 pages)`, value: Math.max(...end), unit: 'MiB' });
      results.push({ name: `page JS heap growth over ${MINUTES} min (max of 3 pages)`, value: Math.max(...end.map((e, i) => e - start[i]!)), unit: 'MiB' });
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    for (const a of agents) await a.stop();
    await http.close();
    await broker.close();
    await work.remove();
  }
  return results;
}
