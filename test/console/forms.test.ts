// The system tab's forms end to end: a real mosquitto with a WebSocket listener, a real agent whose
// network feature talks to NetworkManager served by python3-dbusmock on a private bus, the
// console built by Vite and driven in Debian's chromium. What the API map refuses is shown in place
// and never reaches the broker; what it accepts reaches NetworkManager.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { topics } from '../../src/api/topics.js';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { buildConsole, launchChromium, screenshotDir } from '../helpers/console.js';
import { AP_SEC_KEY_MGMT_PSK, DeviceState, startDbusDaemon, startNetworkManagerMock, type DbusDaemon, type NetworkManagerMock } from '../helpers/dbusmock.js';
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { makeKeyPair } from '../helpers/signing.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const PASSPHRASE = 'correct horse battery';

let work: { path: string; remove(): Promise<void> };
let broker: Broker;
let bus: DbusDaemon;
let nm: NetworkManagerMock;
let agent: TestAgent;
let www: TestHttpServer;
let server: ConsoleServer;
let browser: Browser;
let page: Page;
let shots: string;
/** Every request body the broker carried to the agent's wifi and ethernet topics. */
const posted: { wifi: string[]; ethernet: string[] } = { wifi: [], ethernet: [] };

const connectionOf = (text: string) => /"connection":\s*"([^"]+)"/.exec(text)?.[1];

describe('web console: update, wifi and ethernet forms', { concurrency: false }, () => {
  before(async () => {
    work = await tempDir('ac-console-forms-');
    const appDir = join(work.path, 'app');
    const wsPort = await freePort();
    await mkdir(join(work.path, 'www'));
    [broker, bus] = await Promise.all([startMosquitto({ extraConfig: [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] }), startDbusDaemon(), buildConsole(appDir)]);
    nm = await startNetworkManagerMock(bus);
    await nm.keepAddedSettings();
    await nm.addEthernetDevice('eth0', 'enp1s0', DeviceState.ACTIVATED);
    const wlan = await nm.addWiFiDevice('wlan0', 'wlp2s0', DeviceState.DISCONNECTED);
    await nm.addAccessPoint(wlan, 'ap0', { ssid: 'Café Wi-Fi', hwAddress: 'de:ad:be:ef:00:01', mode: 2, frequency: 2437, maxBitrate: 130000, strength: 67, security: AP_SEC_KEY_MGMT_PSK });
    // With a key, an update gets as far as fetching its release.
    const keys = await makeKeyPair(work.path);
    agent = await startTestAgent(broker.url, { heartbeat_interval: 1, signature_key: keys.publicKeyPath }, { featureOptions: { network: { systemBusAddress: bus.address } } });
    for (const command of ['wifi', 'ethernet'] as const) {
      await agent.client.follow(topics.request(agent.client.base, command), (_topic, payload) => void posted[command].push(payload.toString('utf8')));
    }
    www = await startHttpServer({ folder: join(work.path, 'www') });
    server = await startConsoleServer({
      root: appDir,
      port: 0,
      config: { brokerUrl: `ws://127.0.0.1:${wsPort}`, baseTopic: '$aws/things/{id}', staleAfterSeconds: 5, answerTimeoutSeconds: 20 },
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.setDefaultTimeout(20_000);
    shots = await screenshotDir();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await agent?.stop();
    await www?.close();
    await nm?.stop();
    await bus?.close();
    await broker?.close();
    await work?.remove();
  });

  it('reaches the system tab by keyboard', async () => {
    await page.goto(server.url);
    await page.locator(`[data-device="${agent.settings.id}"][data-state="online"]`).click();
    // Not local mode: no key to sign a file with, and the page says so.
    await page.getByRole('region', { name: 'deploy a file' }).getByText('Only local mode’s console signs a program').waitFor();
    await page.getByRole('tab', { name: 'sketches' }).focus();
    // The system tab is the last: ArrowLeft from the first wraps round to it.
    await page.keyboard.press('ArrowLeft');
    await page.getByRole('heading', { name: 'Wi-Fi' }).waitFor();
    assert.equal(await page.getByRole('tab', { name: 'system' }).getAttribute('aria-selected'), 'true');
  });

  it('wifi: a short passphrase is refused in place and never sent; a good one adds the profile and is forgotten', async () => {
    await page.getByLabel('Network name (SSID)').fill('Café Wi-Fi');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByTestId('wifi-answer').filter({ hasText: 'ERROR: not sent: field "password": a WPA passphrase has 8 to 63 characters, this has 5' }).waitFor();
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), 'short');

    await page.getByLabel('Password', { exact: true }).fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Join' }).click();
    const answer = page.getByTestId('wifi-answer').filter({ hasText: /"action":\s*"added"/ });
    await answer.waitFor();
    const settings = await nm.connectionSettings(connectionOf(await answer.innerText())!);
    assert.equal(settings['802-11-wireless-security']?.psk, PASSPHRASE);
    assert.equal(settings.connection?.['interface-name'], 'wlp2s0');
    // The page forgot the password once it was sent; only the good request reached the broker.
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
    await waitFor(() => posted.wifi.length > 0 || undefined, 'the wifi request on the broker', 10_000);
    assert.equal(posted.wifi.length, 1);
    assert.match(posted.wifi[0]!, /"password":"correct horse battery"/);
  });

  it('ethernet: a gateway outside the subnet is refused in place; a static address reaches NetworkManager', async () => {
    const form = page.getByRole('form', { name: 'ethernet' });
    await form.getByLabel('Address from').selectOption('manual');
    await form.getByLabel('Address', { exact: true }).fill('192.168.1.20');
    await form.getByLabel('Prefix or netmask').fill('255.255.255.0');
    await form.getByLabel('Gateway').fill('10.0.0.1');
    await form.getByLabel('DNS servers').fill('9.9.9.9, 1.1.1.1');
    await form.getByRole('button', { name: 'Apply' }).click();
    await page.getByTestId('ethernet-answer').filter({ hasText: 'ERROR: not sent: field "gateway": 10.0.0.1 is not a host of the subnet 192.168.1.0/24' }).waitFor();

    await form.getByLabel('Gateway').fill('192.168.1.1');
    await form.getByLabel('Proxy').selectOption('none');
    await form.getByRole('button', { name: 'Apply' }).click();
    const answer = page.getByTestId('ethernet-answer').filter({ hasText: /"action":\s*"added"/ });
    await answer.waitFor();
    const settings = await nm.connectionSettings(connectionOf(await answer.innerText())!);
    assert.equal(settings.ipv4?.method, 'manual');
    assert.equal(settings.connection?.['interface-name'], 'enp1s0');
    await waitFor(() => posted.ethernet.length > 0 || undefined, 'the ethernet request on the broker', 10_000);
    assert.equal(posted.ethernet.length, 1);
    assert.deepEqual(JSON.parse(posted.ethernet[0]!), { method: 'manual', address: '192.168.1.20', netmask: '255.255.255.0', gateway: '192.168.1.1', dns: ['9.9.9.9', '1.1.1.1'], proxy: { method: 'none' } });
    await page.screenshot({ path: join(shots, 'device-system.png'), fullPage: true });
  });

  it('update: no URL is refused in place; a URL with nothing there shows the agent’s ERROR:', async () => {
    const form = page.getByRole('form', { name: 'update the agent' });
    await form.getByRole('button', { name: 'Update' }).click();
    await page.getByTestId('update-answer').filter({ hasText: /ERROR: not sent: field "url"/ }).waitFor();
    await form.getByLabel('Release URL').fill(www.url('/arduino-connector-9.9.9.tar.gz'));
    await form.getByRole('button', { name: 'Update' }).click();
    const answer = page.getByTestId('update-answer').filter({ hasText: /^update: ERROR: .*HTTP 404/ });
    await answer.waitFor();
    assert.equal(await answer.getAttribute('role'), 'alert');
    await page.screenshot({ path: join(shots, 'device-update-error.png'), fullPage: true });
  });

  it('is readable on a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    // One column: the forms are as wide as the screen, nothing scrolls sideways.
    const width = await page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(width <= 390, `page is ${width} px wide`);
    await page.screenshot({ path: join(shots, 'device-system-phone.png'), fullPage: true });
  });
});
