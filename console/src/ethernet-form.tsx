// `ethernet`: DHCP, or a static address with a prefix (or netmask), gateway and DNS servers, and
// the proxy NetworkManager offers (none, or auto with an optional PAC URL).
import { useState } from 'preact/hooks';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';

type Method = 'auto' | 'manual';
type Proxy = '' | 'none' | 'auto';

/** "24" is a prefix, "255.255.255.0" a netmask. */
function maskField(text: string): { prefix: number } | { netmask: string } | object {
  const t = text.trim().replace(/^\//, '');
  if (t === '') return {};
  return /^\d{1,2}$/.test(t) ? { prefix: Number(t) } : { netmask: t };
}

export function EthernetForm({ device, session }: { device: Device; session: Session }) {
  const [method, setMethod] = useState<Method>('auto');
  const [address, setAddress] = useState('');
  const [mask, setMask] = useState('');
  const [gateway, setGateway] = useState('');
  const [dns, setDns] = useState('');
  const [proxy, setProxy] = useState<Proxy>('');
  const [pac, setPac] = useState('');
  const [iface, setIface] = useState('');
  const [outcome, setOutcome] = useState<Outcome>();
  const manual = method === 'manual';
  return (
    <form
      class="panel"
      aria-label="ethernet"
      onSubmit={async (e) => {
        e.preventDefault();
        const servers = dns.split(/[\s,]+/).filter(Boolean);
        const body = {
          method,
          ...(manual && address.trim() ? { address: address.trim() } : {}),
          ...(manual ? maskField(mask) : {}),
          ...(manual && gateway.trim() ? { gateway: gateway.trim() } : {}),
          ...(servers.length ? { dns: servers } : {}),
          ...(proxy ? { proxy: { method: proxy, ...(proxy === 'auto' && pac.trim() ? { pac_url: pac.trim() } : {}) } } : {}),
          ...(iface.trim() ? { interface: iface.trim() } : {}),
        };
        setOutcome({ pending: 'configuring' });
        const result = await session.request(device.base, 'ethernet', body);
        setOutcome({ label: 'ethernet', result });
      }}
    >
      <h2>Ethernet</h2>
      <label>
        Address from{' '}
        <select name="method" value={method} onChange={(e) => setMethod(e.currentTarget.value as Method)}>
          <option value="auto">DHCP (auto)</option>
          <option value="manual">a static address (manual)</option>
        </select>
      </label>
      <fieldset disabled={!manual} hidden={!manual}>
        <label>
          Address <input name="address" inputMode="decimal" placeholder="192.168.1.20" value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
        </label>
        <label>
          Prefix or netmask <input name="mask" placeholder="24 or 255.255.255.0" value={mask} onInput={(e) => setMask(e.currentTarget.value)} />
        </label>
        <label>
          Gateway <input name="gateway" inputMode="decimal" placeholder="optional" value={gateway} onInput={(e) => setGateway(e.currentTarget.value)} />
        </label>
      </fieldset>
      <label>
        DNS servers <input name="dns" placeholder="optional, e.g. 9.9.9.9 1.1.1.1" value={dns} onInput={(e) => setDns(e.currentTarget.value)} />
      </label>
      <label>
        Proxy{' '}
        <select name="proxy" value={proxy} onChange={(e) => setProxy(e.currentTarget.value as Proxy)}>
          <option value="">leave as it is</option>
          <option value="none">none</option>
          <option value="auto">auto (PAC URL or WPAD)</option>
        </select>
      </label>
      {proxy === 'auto' ? (
        <label>
          PAC URL <input name="pac" type="url" placeholder="optional; WPAD without it" value={pac} onInput={(e) => setPac(e.currentTarget.value)} />
        </label>
      ) : null}
      <label>
        Ethernet interface <input name="eth-interface" placeholder="optional, e.g. eth0" value={iface} onInput={(e) => setIface(e.currentTarget.value)} />
      </label>
      <button type="submit">Apply</button>
      <AnswerLine outcome={outcome} testId="ethernet-answer" />
    </form>
  );
}
