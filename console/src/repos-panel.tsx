// A device's apt repositories: apt/repos/list as a table, and one form that adds a repository or
// edits the one chosen (the REPO shape of docs/API.md); remove asks first.
import { useEffect, useState } from 'preact/hooks';
import { decodeBody } from '../../src/api/answer.js';
import type { Repository } from '../../src/api/apt.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';
import { DataTable } from './data-table.js';

const blank: Repository = { enabled: true, sourceRepo: false, options: '', uri: '', distribution: '', components: '', comment: '' };
const textFields = [
  ['uri', 'URI'],
  ['distribution', 'Distribution'],
  ['components', 'Components'],
  ['options', 'Options'],
  ['comment', 'Comment'],
] as const;

const keyOf = (r: Repository) => JSON.stringify(r);

export function ReposPanel({ device, session }: { device: Device; session: Session }) {
  const [repos, setRepos] = useState<Repository[]>();
  const [outcome, setOutcome] = useState<Outcome>();
  const [form, setForm] = useState<Repository>(blank);
  const [editing, setEditing] = useState<Repository>();
  const [confirming, setConfirming] = useState<string>();

  const load = async () => {
    const result = await session.request(device.base, 'apt/repos/list', {});
    if (result.ok) setRepos(decodeBody(result.body) as Repository[]);
    else setOutcome({ label: 'apt/repos/list', result });
  };
  useEffect(() => void load(), [session, device.base]);

  const send = async (label: string, command: 'apt/repos/add' | 'apt/repos/edit' | 'apt/repos/remove', body: object) => {
    setOutcome({ pending: label });
    const result = await session.request(device.base, command, body);
    setOutcome({ label, result });
    if (result.ok) {
      setForm(blank);
      setEditing(undefined);
      await load();
    }
  };
  const trimmed = (r: Repository): Repository => ({ ...r, uri: r.uri.trim(), distribution: r.distribution.trim() });

  return (
    <section class="panel repos" aria-label="repositories">
      <div class="toolbar">
        <h2>Repositories</h2>
        <button onClick={() => void load()}>Refresh</button>
      </div>
      <DataTable label="repositories" columns={['type', 'URI', 'distribution', 'components', { name: 'options', wide: true }, 'actions']}>
        {(repos ?? []).map((r) => {
          const key = keyOf(r);
          return (
            <tr key={key} data-repo={r.uri} class={r.enabled ? undefined : 'disabled'}>
              <td>
                {r.sourceRepo ? 'deb-src' : 'deb'}
                {r.enabled ? null : <small> (disabled)</small>}
              </td>
              <th scope="row" class="id">
                {r.uri}
              </th>
              <td>{r.distribution}</td>
              <td>{r.components}</td>
              <td class="wide">{r.options}</td>
              <td class="actions">
                <button
                  onClick={() => {
                    setEditing(r);
                    setForm(r);
                    document.getElementById('repo-uri')?.focus();
                  }}
                >
                  edit
                </button>
                {confirming === key ? (
                  <>
                    <button class="danger" ref={(el) => el?.focus()} onClick={() => void send(`remove ${r.uri}`, 'apt/repos/remove', { repository: r }).then(() => setConfirming(undefined))}>
                      confirm remove
                    </button>
                    <button onClick={() => setConfirming(undefined)}>cancel</button>
                  </>
                ) : (
                  <button class="danger" onClick={() => setConfirming(key)}>
                    remove
                  </button>
                )}
              </td>
            </tr>
          );
        })}
      </DataTable>
      <form
        aria-label={editing ? 'edit the repository' : 'add a repository'}
        onSubmit={(e) => {
          e.preventDefault();
          const repo = trimmed(form);
          if (editing) void send(`edit ${editing.uri}`, 'apt/repos/edit', { old_repository: editing, new_repository: repo });
          else void send(`add ${repo.uri}`, 'apt/repos/add', { repository: repo });
        }}
      >
        <h3>{editing ? `Edit ${editing.uri}` : 'Add a repository'}</h3>
        <div class="form-grid">
          {textFields.map(([field, label]) => (
            <label key={field}>
              {label}
              <input
                id={`repo-${field}`}
                name={field}
                required={field === 'uri' || field === 'distribution'}
                value={form[field]}
                onInput={(e) => setForm({ ...form, [field]: e.currentTarget.value })}
              />
            </label>
          ))}
        </div>
        <div class="toolbar">
          <label>
            <input type="checkbox" checked={form.enabled} onChange={(e) => setForm({ ...form, enabled: e.currentTarget.checked })} /> enabled
          </label>
          <label>
            <input type="checkbox" checked={form.sourceRepo} onChange={(e) => setForm({ ...form, sourceRepo: e.currentTarget.checked })} /> source packages (deb-src)
          </label>
          <button type="submit">{editing ? 'Save' : 'Add'}</button>
          {editing ? (
            <button
              type="button"
              onClick={() => {
                setEditing(undefined);
                setForm(blank);
              }}
            >
              Cancel edit
            </button>
          ) : null}
        </div>
        <AnswerLine outcome={outcome} testId="repos-answer" />
      </form>
    </section>
  );
}
