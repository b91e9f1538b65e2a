// One device in the web console for a tab's test: a real mosquitto with a WebSocket listener, one
// real agent, the console built by Vite and served by its own server, and a chromium page already
// on that device's page.

import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.js';
import { startTestAgent, type TestAgent } from './agent.js';
import { buildConsole, launchChromium } from './console.js';
import { startMosquitto, type Broker } from './mosquitto.js';
import { freePort } from './net.js';
import { tempDir } from './tmp.js';

export interface ConsoleStack {
  agent: TestAgent;
  page: Page;
  close(): Promise<void>;
}

export async function startConsoleStack(agentArgs: Parameters<typeof startTestAgent>[1], agentExtra: Parameters<typeof startTestAgent>[2] = {}): Promise<ConsoleStack> {
  const work = await tempDir('ac-console-tab-');
  const appDir = join(work.path, 'app');
  const wsPort = await freePort();
  let broker: Broker | undefined;
  let agent: TestAgent | undefined;
  let server: ConsoleServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
    await agent?.stop().catch(() => {});
    await broker?.close();
    await work.remove();
  };
  try {
    [, broker] = await Promise.all([buildConsole(appDir), startMosquitto({ extraConfig: [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] })]);
    agent = await startTestAgent(broker.url, { heartbeat_interval: 2, ...agentArgs }, agentExtra);
    server = await startConsoleServer({
      root: appDir,
      port: 0,
      config: { brokerUrl: `ws://127.0.0.1:${wsPort}`, baseTopic: '$aws/things/{id}', staleAfterSeconds: 10, answerTimeoutSeconds: 30 },
    });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    page.setDefaultTimeout(30_000);
    await page.goto(`${server.url}#/device/${encodeURIComponent(agent.settings.id)}`);
    await page.getByRole('heading', { name: agent.settings.id }).waitFor();
    return { agent, page, close };
  } catch (err) {
    await close();
    throw err;
  }
}
