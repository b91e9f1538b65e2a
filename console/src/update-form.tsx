// `update`: the agent replaces its own release with a signed one. The API map checks the request
// before it is sent (Session.request); the answer shows in place.
import { useState } from 'preact/hooks';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';

export function UpdateForm({ device, session }: { device: Device; session: Session }) {
  const [url, setUrl] = useState('');
  const [token, setToken] = useState('');
  const [signature, setSignature] = useState('');
  const [downgrade, setDowngrade] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>();
  return (
    <form
      class="panel"
      aria-label="update the agent"
      onSubmit={async (e) => {
        e.preventDefault();
        setOutcome({ pending: 'updating' });
        const body = {
          url: url.trim(),
          ...(token ? { token } : {}),
          ...(signature.trim() ? { signature: signature.trim() } : {}),
          ...(downgrade ? { allow_downgrade: true } : {}),
        };
        const result = await session.request(device.base, 'update', body);
        setOutcome({ label: 'update', result });
      }}
    >
      <h2>Update the agent</h2>
      <label>
        Release URL <input name="update-url" type="url" placeholder="https://…/arduino-connector-x.y.z.tar.gz" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </label>
      <label>
        Release token <input name="update-token" type="password" autocomplete="off" placeholder="optional bearer token" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
      </label>
      <label>
        Signature <input name="signature" placeholder="optional, base64 (else URL.sig is fetched)" value={signature} onInput={(e) => setSignature(e.currentTarget.value)} />
      </label>
      <label class="check">
        <input name="allow-downgrade" type="checkbox" checked={downgrade} onChange={(e) => setDowngrade(e.currentTarget.checked)} /> Allow an older version
      </label>
      <button type="submit">Update</button>
      <AnswerLine outcome={outcome} testId="update-answer" />
    </form>
  );
}
