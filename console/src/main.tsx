// The console's entry: reads /config.json, opens the MQTT session, renders the app.
import { render } from 'preact';
import { App } from './app.js';
import { Fleet, type ConsoleConfig } from './fleet.js';
import { Session } from './session.js';
import './styles.css';

async function boot(): Promise<void> {
  const root = document.getElementById('app')!;
  const response = await fetch('./config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = (await response.json()) as ConsoleConfig;
  const session = new Session(config.brokerUrl, config.answerTimeoutSeconds * 1000);
  const fleet = new Fleet(session, config);
  fleet.start();
  session.start();
  render(<App session={session} fleet={fleet} config={config} />, root);
}

boot().catch((err: unknown) => {
  document.getElementById('app')!.textContent = `The console could not start: ${err instanceof Error ? err.message : String(err)}`;
});
