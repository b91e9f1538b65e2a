// containers/action run: image, name, registry credentials (the password lives in the form only
// until the request is sent) and, for what the engine needs beyond them, its own configuration
// objects as JSON.
import { useState } from 'preact/hooks';
import { decodeBody } from '../../src/api/answer.js';
import type { ContainerActionResult } from '../../src/api/containers.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';

// The agent gives a pull 30 minutes (docs/API.md): the page waits a little longer.
const PULL_TIMEOUT_MS = 31 * 60_000;

const configs = [
  ['container_config', 'Container config (JSON, e.g. {"Cmd":["sleep","60"]})'],
  ['host_config', 'Host config (JSON, e.g. {"NetworkMode":"none"})'],
  ['networking_config', 'Networking config (JSON)'],
] as const;
type ConfigField = (typeof configs)[number][0];

/** The JSON objects typed, or the first one that is not a JSON object. */
function parseConfigs(texts: Record<ConfigField, string>): { ok: true; value: Partial<Record<ConfigField, object>> } | { ok: false; message: string } {
  const value: Partial<Record<ConfigField, object>> = {};
  for (const [field] of configs) {
    const text = texts[field].trim();
    if (!text) continue;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, message: `not sent: field "${field}": must be a JSON object` };
      value[field] = parsed;
    } catch (err) {
      return { ok: false, message: `not sent: field "${field}": ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return { ok: true, value };
}

export function RunForm({ device, session, onDone }: { device: Device; session: Session; onDone(): Promise<void> }) {
  const [image, setImage] = useState('');
  const [name, setName] = useState('');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [texts, setTexts] = useState<Record<ConfigField, string>>({ container_config: '', host_config: '', networking_config: '' });
  const [outcome, setOutcome] = useState<Outcome>();
  return (
    <form
      class="panel run"
      aria-label="run a container"
      onSubmit={async (e) => {
        e.preventDefault();
        const label = `run ${image.trim()}`;
        const parsed = parseConfigs(texts);
        if (!parsed.ok) return setOutcome({ label, result: parsed });
        const credentials = user ? { user, password } : {};
        // The password is not kept once the request is on its way.
        setPassword('');
        setOutcome({ pending: label });
        const body = { action: 'run', image: image.trim(), background: true, ...(name.trim() ? { name: name.trim() } : {}), ...credentials, ...parsed.value };
        const result = await session.request(device.base, 'containers/action', body, PULL_TIMEOUT_MS);
        if (result.ok) {
          const run = (decodeBody(result.body) as ContainerActionResult[])[0];
          const note = run?.pull_error ? ` (pull failed, ran the local copy: ${run.pull_error})` : '';
          setOutcome({ label, result: { ok: true, body: `started ${run?.name ?? ''} ${run?.id.slice(0, 12) ?? ''}${note}` } });
        } else setOutcome({ label, result });
        await onDone();
      }}
    >
      <h2>Run a container</h2>
      <div class="form-grid">
        <label>
          Image <input name="image" required placeholder="registry/name:tag" value={image} onInput={(e) => setImage(e.currentTarget.value)} />
        </label>
        <label>
          Container name <input name="name" placeholder="optional" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Registry user <input name="user" autocomplete="off" placeholder="optional" value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        </label>
        <label>
          Registry password <input name="password" type="password" autocomplete="off" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
      </div>
      <details>
        <summary>Engine configuration</summary>
        {configs.map(([field, label]) => (
          <label key={field}>
            {label}
            <textarea name={field} rows={2} spellcheck={false} value={texts[field]} onInput={(e) => setTexts({ ...texts, [field]: e.currentTarget.value })} />
          </label>
        ))}
      </details>
      <button type="submit">Run</button>
      <AnswerLine outcome={outcome} testId="run-answer" />
    </form>
  );
}
