// `wifi`: a NetworkManager profile for a Wi-Fi network. The password lives in this form's state
// until the request is sent, then it is cleared: the page keeps no copy.
import { useState } from 'preact/hooks';
import { validateRequest } from '../../src/api.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';

export function WifiForm({ device, session }: { device: Device; session: Session }) {
  const [ssid, setSsid] = useState('');
  const [password, setPassword] = useState('');
  const [hidden, setHidden] = useState(false);
  const [iface, setIface] = useState('');
  const [outcome, setOutcome] = useState<Outcome>();
  return (
    <form
      class="panel"
      aria-label="wifi"
      onSubmit={async (e) => {
        e.preventDefault();
        const body = { ssid, password, ...(hidden ? { hidden: true } : {}), ...(iface.trim() ? { interface: iface.trim() } : {}) };
        try {
          validateRequest('wifi', body);
        } catch (err) {
          // Refused before sending: the password stays in the field for a correction.
          setOutcome({ label: `wifi ${ssid}`, result: { ok: false, message: `not sent: ${err instanceof Error ? err.message : String(err)}` } });
          return;
        }
        // On its way: the form forgets it at once.
        setPassword('');
        setOutcome({ pending: `joining ${ssid}` });
        const result = await session.request(device.base, 'wifi', body);
        setOutcome({ label: `wifi ${ssid}`, result });
      }}
    >
      <h2>Wi-Fi</h2>
      <label>
        Network name (SSID) <input name="ssid" required value={ssid} onInput={(e) => setSsid(e.currentTarget.value)} />
      </label>
      <label>
        Password <input name="wifi-password" type="password" autocomplete="off" placeholder="empty for an open network" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      <label class="check">
        <input name="hidden" type="checkbox" checked={hidden} onChange={(e) => setHidden(e.currentTarget.checked)} /> Hidden network
      </label>
      <label>
        Wi-Fi interface <input name="wifi-interface" placeholder="optional, e.g. wlan0" value={iface} onInput={(e) => setIface(e.currentTarget.value)} />
      </label>
      <button type="submit">Join</button>
      <AnswerLine outcome={outcome} testId="wifi-answer" />
    </form>
  );
}
