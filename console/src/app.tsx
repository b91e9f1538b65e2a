// The console's frame: the connection bar, the login form when the broker asks, and the page of
// the current address (#/ the fleet, #/device/<id> one device).
import { useState } from 'preact/hooks';
import { DevicePage } from './device-page.js';
import { FleetView } from './fleet-view.js';
import type { ConsoleConfig, Fleet } from './fleet.js';
import { useRoute, useSessionState } from './hooks.js';
import type { Session, SessionState } from './session.js';

function stateText(state: SessionState): string {
  switch (state.kind) {
    case 'connecting':
      return 'connecting…';
    case 'connected':
      return state.protocol === 5 ? 'connected (MQTT 5)' : 'connected (MQTT 3.1.1)';
    case 'needs-login':
      return state.reason;
    case 'offline':
      return `offline: ${state.reason}`;
  }
}

function Login({ session, reason }: { session: Session; reason: string }) {
  const [username, setUsername] = useState(session.username);
  const [password, setPassword] = useState('');
  return (
    <form
      class="login panel"
      onSubmit={(e) => {
        e.preventDefault();
        session.login(username, password);
      }}
    >
      <h2>Broker login</h2>
      <p role="alert">{reason}. The credentials stay in this page only, until you close it.</p>
      <label>
        User name <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
      </label>
      <label>
        Password <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      <button type="submit">Connect</button>
    </form>
  );
}

export function App({ session, fleet, config }: { session: Session; fleet: Fleet; config: ConsoleConfig }) {
  const state = useSessionState(session);
  const route = useRoute();
  const deviceMatch = /^\/device\/([^/]+)$/.exec(route);
  return (
    <>
      <header class="bar">
        <a class="brand" href="#/">
          My Devices
        </a>
        <span class={`conn conn-${state.kind}`} data-testid="connection" title={config.brokerUrl}>
          {stateText(state)}
        </span>
      </header>
      <main>
        {state.kind === 'needs-login' ? <Login session={session} reason={state.reason} /> : null}
        {deviceMatch ? <DevicePage key={deviceMatch[1]} id={decodeURIComponent(deviceMatch[1]!)} session={session} fleet={fleet} config={config} /> : <FleetView fleet={fleet} />}
      </main>
    </>
  );
}
