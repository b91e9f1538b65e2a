// The sketches of one device: the table with live state from B/status, the four actions, a
// deploy form (URL + token, as the upload command takes it) and a terminal per sketch.
import { Fragment } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import type { SketchStatus } from '../../src/api/sketches.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import { DropDeploy } from './drop-deploy.js';
import type { ConsoleConfig, Device, Fleet } from './fleet.js';
import type { Session } from './session.js';
import { DataTable } from './data-table.js';

// xterm.js is loaded only when a terminal opens: the fleet page stays small.
const Terminal = lazy(() => import('./terminal.js').then((m) => ({ default: m.SketchTerminal })));

const actions = ['START', 'STOP', 'PAUSE', 'DELETE'] as const;

function DeployForm({ device, session }: { device: Device; session: Session }) {
  const [url, setUrl] = useState('');
  const [name, setName] = useState('');
  const [token, setToken] = useState('');
  const [outcome, setOutcome] = useState<Outcome>();
  return (
    <form
      class="deploy panel"
      aria-label="deploy a sketch"
      onSubmit={async (e) => {
        e.preventDefault();
        setOutcome({ pending: `deploying ${name}` });
        const body = { url: url.trim(), name: name.trim(), ...(token ? { token } : {}) };
        const result = await session.request(device.base, 'upload', body);
        setOutcome({ label: `upload ${name}`, result });
      }}
    >
      <h2>Deploy</h2>
      <label>
        Program URL <input name="url" type="url" required placeholder="https://…/program (its signature at URL.sig)" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </label>
      <label>
        Name <input name="name" required pattern="[^/\\\\+#]+" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Token <input name="token" type="password" autocomplete="off" placeholder="optional bearer token" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
      </label>
      <button type="submit">Deploy</button>
      <AnswerLine outcome={outcome} testId="deploy-answer" />
    </form>
  );
}

export function SketchesTab({ device, session, fleet, drop }: { device: Device; session: Session; fleet: Fleet; drop?: ConsoleConfig['deploy'] }) {
  const [outcomes, setOutcomes] = useState<Record<string, Outcome>>({});
  const [terminal, setTerminal] = useState<string>();
  const sketches: SketchStatus[] = Object.values(device.status?.sketches ?? {}).sort((a, b) => a.id.localeCompare(b.id));
  const act = async (sketch: SketchStatus, action: (typeof actions)[number]) => {
    setOutcomes((o) => ({ ...o, [sketch.id]: { pending: `${action} ${sketch.id}` } }));
    const result = await session.request(device.base, 'sketch', { id: sketch.id, action });
    setOutcomes((o) => ({ ...o, [sketch.id]: { label: `${action} ${sketch.id}`, result } }));
  };
  return (
    <>
      <div class="toolbar">
        <button onClick={() => fleet.askStatus(device)}>Refresh</button>
        <span>{device.status ? `${sketches.length} sketches` : 'waiting for the device’s status…'}</span>
      </div>
      <DataTable label="sketches" columns={['sketch', 'state', 'pid', 'actions']}>
        {sketches.map((s) => (
          <Fragment key={s.id}>
            <tr data-sketch={s.id}>
              <th scope="row">
                {s.name}
                {s.name !== s.id ? <small> ({s.id})</small> : null}
              </th>
              <td data-testid="sketch-state" class={`state ${s.status.toLowerCase()}`}>
                {s.status}
                {s.exit_code !== undefined && s.exit_code !== null ? <small> exit {s.exit_code}</small> : null}
                {s.signal ? <small> {s.signal}</small> : null}
              </td>
              <td>{s.pid || '—'}</td>
              <td class="actions">
                {actions.map((a) => (
                  <button key={a} class={a === 'DELETE' ? 'danger' : undefined} onClick={() => void act(s, a)}>
                    {a}
                  </button>
                ))}
                <button aria-pressed={terminal === s.id} onClick={() => setTerminal(terminal === s.id ? undefined : s.id)}>
                  terminal
                </button>
              </td>
            </tr>
            <tr class="answer-row">
              <td colSpan={4}>
                <AnswerLine outcome={outcomes[s.id]} testId={`answer-${s.id}`} />
              </td>
            </tr>
          </Fragment>
        ))}
      </DataTable>
      {/* A deleted sketch's terminal closes with its row. */}
      {terminal && sketches.some((s) => s.id === terminal) ? (
        <Suspense fallback={<p>loading the terminal…</p>}>
          <Terminal key={terminal} session={session} base={device.base} sketch={terminal} />
        </Suspense>
      ) : null}
      <DropDeploy device={device} session={session} drop={drop} />
      <DeployForm device={device} session={session} />
    </>
  );
}
