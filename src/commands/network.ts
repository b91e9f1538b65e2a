// wifi and ethernet: a connection profile put on the device's Wi-Fi or wired interface through
// NetworkManager's D-Bus API (src/system/network-manager-settings.ts). NetworkManager comes and goes
// independently of the agent, so start() does not look for it: each request opens its own bus
// connection, and one made while it is missing is answered `ERROR: network unavailable: …`.
// NetworkManager's own refusals are answered with its D-Bus error name and message.

import { ethernetSettingsOf, type AnswerOf, type EthernetSettings, type NetworkConnectionResult, type RequestOf } from '../api.js';
import { Feature, type CommandTable } from '../feature.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { NotFoundError } from '../errors.js';
import { NM_DEVICE_TYPE_ETHERNET, NM_DEVICE_TYPE_WIFI, withNetworkManager } from '../system/network-manager.js';
import type { AppliedConnection, WiredProfile } from '../system/network-manager-settings.js';
import { quoteValue } from '../text.js';

/** B/<command>/post → the method of NetworkFeature that answers it. */
export const networkCommands = {
  wifi: 'wifi',
  ethernet: 'ethernet',
} as const satisfies CommandTable<'network', NetworkFeature>;

export interface NetworkOptions {
  /** The D-Bus address where NetworkManager is asked; default: the system bus (which honours
   * DBUS_SYSTEM_BUS_ADDRESS). */
  systemBusAddress?: string;
  /** How long one request may take on the bus, from the device lookup to the activation's start
   * (default 20 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;

/** The settings side is loaded on the first request: most devices never change their network
 * through the agent, and its code would otherwise sit in memory for the agent's whole life. */
const settingsSide = () => import('../system/network-manager-settings.js');

function answerOf(applied: AppliedConnection): NetworkConnectionResult {
  return { connection: applied.connection, active_connection: applied.activeConnection, interface: applied.interfaceName, action: applied.action };
}

function wiredProfile(request: EthernetSettings): WiredProfile {
  const { proxy } = request;
  return {
    ip4: request.ipv4,
    ...(proxy ? { proxy: proxy.method === 'none' ? proxy : { method: 'auto', ...(proxy.pac_url ? { pacUrl: proxy.pac_url } : {}) } } : {}),
  };
}

export class NetworkFeature extends Feature<NetworkOptions> {
  readonly name = 'network';
  /** One profile change at a time: two requests for the same name must not both add one. */
  private readonly queue = new SerialQueue();

  async wifi(request: RequestOf<'wifi'>): Promise<AnswerOf<'wifi'>> {
    const hidden = request.hidden === true;
    const { applyProfile, findAccessPoint, findDevice, wantsSae, wifiSettings } = await settingsSide();
    const applied = await this.change(async (bus, dbus) => {
      const device = await findDevice(bus, NM_DEVICE_TYPE_WIFI, request.interface);
      const ap = await findAccessPoint(bus, device.path, request.ssid);
      if (!ap && !hidden) {
        throw new NotFoundError(`no Wi-Fi network ${quoteValue(request.ssid)} in range of ${device.interfaceName} (one that does not broadcast its name needs "hidden": true)`);
      }
      // "" is an open network, as absent is.
      const password = request.password || undefined;
      const settings = wifiSettings({ ssid: request.ssid, password, hidden, sae: wantsSae(ap) }, device.interfaceName);
      // A hidden network is found by NetworkManager's own probe: no access point to name.
      return applyProfile(bus, dbus, { device, settings, specificObject: ap?.path ?? '/' });
    });
    this.deps.log.info(`wifi: ${applied.action} the profile of ${quoteValue(request.ssid)} on ${applied.interfaceName} and activating it (${applied.connection})`);
    return answerOf(applied);
  }

  async ethernet(request: RequestOf<'ethernet'>): Promise<AnswerOf<'ethernet'>> {
    const wanted = ethernetSettingsOf(request);
    const { applyProfile, findDevice, wiredSettings } = await settingsSide();
    const applied = await this.change(async (bus, dbus) => {
      const device = await findDevice(bus, NM_DEVICE_TYPE_ETHERNET, wanted.interface);
      return applyProfile(bus, dbus, { device, settings: wiredSettings(wiredProfile(wanted), device.interfaceName), specificObject: '/' });
    });
    const { ipv4 } = wanted;
    const how = ipv4.method === 'auto' ? 'DHCP' : `${ipv4.address}/${ipv4.prefix}`;
    this.deps.log.info(`ethernet: ${applied.action} the profile of ${applied.interfaceName} (${how}) and activating it (${applied.connection})`);
    return answerOf(applied);
  }

  /** NetworkManager writes the profile under /etc: inside the -check_ro_fs read-write window. */
  private change(work: Parameters<typeof withNetworkManager<AppliedConnection>>[1]): Promise<AppliedConnection> {
    const options = { busAddress: this.options.systemBusAddress, timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS, log: this.deps.log };
    return this.queue.run(() => this.deps.writable.around(() => withNetworkManager(options, work)));
  }
}
