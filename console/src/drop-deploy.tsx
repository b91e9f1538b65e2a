// Deploy from a file (local mode only): the program chosen or dropped here goes to the console's
// own server, which signs it with local mode's key and serves it once; the page then sends
// `upload` with the URL and token it got back. Elsewhere the console has no key, and says so.
import { useState } from 'preact/hooks';
import { validateRequest } from '../../src/api.js';
import type { ConsoleConfig } from '../../src/console/config.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';

type DropConfig = NonNullable<ConsoleConfig['deploy']>;

/** A sketch name from a file name: the characters a name may not have become "_". */
const nameOfFile = (file: string) => file.replace(/[/\\+#]/g, '_');

async function handOver(file: File, drop: DropConfig): Promise<{ url: string; token: string } | { error: string }> {
  const response = await fetch('./deploy', { method: 'POST', headers: { 'x-console-token': drop.token, 'content-type': 'application/octet-stream' }, body: file });
  const body = (await response.json().catch(() => ({}))) as { url?: string; token?: string; error?: string };
  if (response.ok && body.url && body.token) return { url: body.url, token: body.token };
  return { error: body.error ?? `HTTP ${response.status}` };
}

export function DropDeploy({ device, session, drop }: { device: Device; session: Session; drop: DropConfig | undefined }) {
  const [file, setFile] = useState<File>();
  const [name, setName] = useState('');
  const [over, setOver] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>();
  if (!drop)
    return (
      <section class="panel" aria-label="deploy a file">
        <h2>Deploy a file</h2>
        <p class="note">Only local mode’s console signs a program chosen here (it holds local mode’s key). For this device, sign the program with <code>arduino-connector sign</code>, put it on a web server and deploy it by URL below.</p>
      </section>
    );
  const choose = (chosen: File | undefined) => {
    setFile(chosen);
    if (chosen) setName(nameOfFile(chosen.name));
  };
  const label = `upload ${name}`;
  return (
    <form
      class="panel"
      aria-label="deploy a file"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!file) return;
        // Checked before the file leaves the page: what the agent would refuse is not sent.
        try {
          validateRequest('upload', { url: 'http://127.0.0.1/', name: name.trim() });
        } catch (err) {
          setOutcome({ label, result: { ok: false, message: `not sent: ${err instanceof Error ? err.message : String(err)}` } });
          return;
        }
        if (file.size > drop.maxBytes) {
          setOutcome({ label, result: { ok: false, message: `not sent: ${file.size} bytes, the device takes at most ${drop.maxBytes} (max_sketch_size)` } });
          return;
        }
        setOutcome({ pending: `signing ${file.name}` });
        const served = await handOver(file, drop).catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
        if ('error' in served) {
          setOutcome({ label, result: { ok: false, message: `the console could not sign it: ${served.error}` } });
          return;
        }
        setOutcome({ pending: `deploying ${name}` });
        const result = await session.request(device.base, 'upload', { url: served.url, token: served.token, name: name.trim() });
        setOutcome({ label, result });
      }}
    >
      <h2>Deploy a file</h2>
      <label
        class={`dropzone${over ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          choose(e.dataTransfer?.files[0]);
        }}
      >
        <span>Program file: drop it here or choose it (signed with local mode’s key)</span>
        <input name="program" type="file" required onChange={(e) => choose(e.currentTarget.files?.[0])} />
        <small data-testid="drop-file">{file ? `${file.name}, ${file.size} bytes` : 'no file yet'}</small>
      </label>
      <label>
        Run as sketch <input name="sketch-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <button type="submit">Sign and run</button>
      <AnswerLine outcome={outcome} testId="drop-answer" />
    </form>
  );
}
