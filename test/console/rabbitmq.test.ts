// The console on a broker that clusters, for fleets that outgrow one mosquitto: Debian's RabbitMQ
// 3.10 with its MQTT and Web MQTT plugins (MQTT 3.1.1 only), a real agent on it, the page in
// chromium: the device listed by its heartbeat, its status, a sketch's output in the terminal.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { buildConsole, launchChromium } from '../helpers/console.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { startRabbitMq, type RabbitMq } from '../helpers/rabbitmq.js';
import { makeKeyPair, signFile } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

let work: { path: string; remove(): Promise<void> };
let rabbit: RabbitMq;
let www: TestHttpServer;
let agent: TestAgent;
let server: ConsoleServer;
let browser: Browser;

describe('web console on RabbitMQ', () => {
  before(async () => {
    work = await tempDir('ac-console-rabbit-');
    const app = join(work.path, 'app');
    await mkdir(join(work.path, 'www'));
    const [r, keys] = await Promise.all([startRabbitMq({ webMqtt: true }), makeKeyPair(work.path), buildConsole(app)]);
    rabbit = r;
    const program = join(work.path, 'www', 'ticker');
    await writeFile(program, '#!/bin/sh\nwhile true; do echo "tick from rabbit"; sleep 0.3; done\n');
    await signFile(keys.privateKeyPath, program);
    www = await startHttpServer({ folder: join(work.path, 'www') });
    agent = await startTestAgent(rabbit.url, { id: `rabbit-${process.pid}`, heartbeat_interval: 1, signature_key: keys.publicKeyPath });
    server = await startConsoleServer({ root: app, port: 0, config: { brokerUrl: rabbit.wsUrl!, baseTopic: '$aws/things/{id}', staleAfterSeconds: 5, answerTimeoutSeconds: 30 } });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await agent?.stop();
    await www?.close();
    await rabbit?.close();
    await work?.remove();
  });

  it('lists the agent, deploys a sketch and shows its output', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(server.url);
    await page.getByTestId('connection').filter({ hasText: 'connected (MQTT 3.1.1)' }).waitFor();
    await page.locator(`[data-device="${agent.settings.id}"][data-state="online"]`).click();
    await page.getByText('0 sketches').waitFor();
    await page.getByLabel('Program URL').fill(www.url('/ticker'));
    await page.getByLabel('Name').fill('ticker');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByTestId('deploy-answer').filter({ hasText: /Sketch started with PID \d+/ }).waitFor();
    await page.locator('tr[data-sketch="ticker"]').getByTestId('sketch-state').filter({ hasText: 'RUNNING' }).waitFor();
    await page.locator('tr[data-sketch="ticker"]').getByRole('button', { name: 'terminal' }).click();
    await page.locator('[data-testid="terminal"] .xterm-rows').filter({ hasText: 'tick from rabbit' }).waitFor();
  });
});
