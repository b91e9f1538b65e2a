// The packages of one device: search with paging (without a search, the upgradable packages),
// apt/get for one package, install / upgrade / remove (remove asks first), apt/update, the live
// lines of B/apt/progress while a command runs, and the repositories below.
import { useEffect, useState } from 'preact/hooks';
import { decodeBody } from '../../src/api/answer.js';
import type { AptListBody, AptPackage, AptPackagesBody, CommandOutputBody } from '../../src/api/apt.js';
import type { AptProgressLine } from '../../src/api/streams.js';
import { topics } from '../../src/api/topics.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import { ProgressLog } from './progress-log.js';
import { ReposPanel } from './repos-panel.js';
import type { RequestResult, Session } from './session.js';
import { DataTable } from './data-table.js';

// The agent gives queries 2 minutes and changes 30 (docs/API.md): the page waits a little longer.
const QUERY_TIMEOUT_MS = 150_000;
const CHANGE_TIMEOUT_MS = 31 * 60_000;

type Change = 'apt/install' | 'apt/upgrade' | 'apt/remove' | 'apt/update';

function progressLine(payload: string): string {
  const p = JSON.parse(payload) as AptProgressLine;
  return `[${p.command} #${p.run}] ${p.line}`;
}

/** An answer whose body is apt's output: the line says done, the output is shown below it. */
function changeOutcome(label: string, result: RequestResult): { outcome: Outcome; output?: string } {
  if (!result.ok) return { outcome: { label, result } };
  const { output } = decodeBody(result.body) as CommandOutputBody;
  return { outcome: { label, result: { ok: true, body: 'done' } }, output };
}

function PackageRow({ pkg, busy, change, get }: { pkg: AptPackage; busy: boolean; change(command: Change, names: string[]): Promise<void>; get(name: string): Promise<Outcome> }) {
  const [confirming, setConfirming] = useState(false);
  const [details, setDetails] = useState<Outcome>();
  const installed = pkg.Status !== 'not-installed';
  return (
    <>
      <tr data-package={pkg.Name}>
        <th scope="row">{pkg.Name}</th>
        <td data-testid="package-status">{pkg.Status}</td>
        <td>{pkg.Version}</td>
        <td class="wide">{pkg.ShortDescription}</td>
        <td class="actions">
          <button onClick={async () => setDetails(await get(pkg.Name))}>details</button>
          {installed ? null : (
            <button disabled={busy} onClick={() => void change('apt/install', [pkg.Name])}>
              install
            </button>
          )}
          {pkg.Status === 'upgradable' ? (
            <button disabled={busy} onClick={() => void change('apt/upgrade', [pkg.Name])}>
              upgrade
            </button>
          ) : null}
          {installed && !confirming ? (
            <button class="danger" disabled={busy} onClick={() => setConfirming(true)}>
              remove
            </button>
          ) : null}
          {confirming ? (
            <span class="confirm" role="group" aria-label={`remove ${pkg.Name}?`}>
              Remove {pkg.Name}?{' '}
              <button
                class="danger"
                ref={(el) => el?.focus()}
                onClick={() => {
                  setConfirming(false);
                  void change('apt/remove', [pkg.Name]);
                }}
              >
                confirm remove
              </button>
              <button onClick={() => setConfirming(false)}>cancel</button>
            </span>
          ) : null}
        </td>
      </tr>
      {details ? (
        <tr class="answer-row">
          <td colSpan={5}>
            <AnswerLine outcome={details} testId={`package-${pkg.Name}`} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** One package as apt/get answers it, in words. */
function describe(body: AptPackagesBody, name: string): string {
  const p = body.packages[0];
  if (!p) return `no package ${name}`;
  return `${p.Name} ${p.Version} (${p.Architecture}), ${p.Status}, ${p.InstalledSizeKB} KiB: ${p.ShortDescription || 'no description'}`;
}

export function PackagesTab({ device, session }: { device: Device; session: Session }) {
  const [search, setSearch] = useState('');
  const [shown, setShown] = useState<{ search: string; body: AptListBody }>();
  const [listOutcome, setListOutcome] = useState<Outcome>();
  const [changeState, setChangeState] = useState<{ outcome: Outcome; output?: string }>({ outcome: undefined });
  const [busy, setBusy] = useState(false);

  const list = async (term: string, page: number) => {
    setListOutcome({ pending: term ? `searching ${term}` : 'listing the upgradable packages' });
    const result = await session.request(device.base, 'apt/list', term ? { search: term, page } : {}, QUERY_TIMEOUT_MS);
    if (!result.ok) return setListOutcome({ label: 'apt/list', result });
    setListOutcome(undefined);
    setShown({ search: term, body: decodeBody(result.body) as AptListBody });
  };
  // The upgradable packages first, as the agent answers apt/list without a search.
  useEffect(() => void list('', 0), [session, device.base]);

  const change = async (command: Change, names: string[]) => {
    const label = command === 'apt/update' ? command : `${command} ${names.join(' ') || 'everything'}`;
    setBusy(true);
    setChangeState({ outcome: { pending: label } });
    const body = command === 'apt/update' ? {} : { packages: names };
    const result = await session.request(device.base, command, body, CHANGE_TIMEOUT_MS);
    setChangeState(changeOutcome(label, result));
    setBusy(false);
    if (result.ok && shown) await list(shown.search, shown.body.page);
  };
  const get = async (name: string): Promise<Outcome> => {
    const result = await session.request(device.base, 'apt/get', { package: name }, QUERY_TIMEOUT_MS);
    return { label: `apt/get ${name}`, result: result.ok ? { ok: true, body: describe(decodeBody(result.body) as AptPackagesBody, name) } : result };
  };

  const body = shown?.body;
  return (
    <div class="packages">
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          void list(search.trim(), 0);
        }}
      >
        <label>
          Search packages <input type="search" name="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="name (empty: upgradable)" />
        </label>
        <button type="submit">Search</button>
        <button type="button" disabled={busy} onClick={() => void change('apt/update', [])}>
          apt update
        </button>
        {shown && !shown.search && body && body.total_items > 0 ? (
          <button type="button" disabled={busy} onClick={() => void change('apt/upgrade', [])}>
            upgrade everything
          </button>
        ) : null}
      </form>
      <AnswerLine outcome={listOutcome} testId="packages-answer" />
      {body ? (
        <>
          <p data-testid="packages-summary">
            {shown.search ? `“${shown.search}”` : 'upgradable'}: {body.total_items} packages, page {body.page + 1} of {body.pages}
          </p>
          <DataTable label="packages" columns={['package', 'status', 'version', { name: 'description', wide: true }, 'actions']}>
            {body.packages.map((p) => (
              <PackageRow key={p.Name} pkg={p} busy={busy} change={change} get={get} />
            ))}
          </DataTable>
          <nav class="toolbar" aria-label="pages">
            <button disabled={body.page <= 0} onClick={() => void list(shown.search, body.page - 1)}>
              previous page
            </button>
            <button disabled={body.page + 1 >= body.pages} onClick={() => void list(shown.search, body.page + 1)}>
              next page
            </button>
          </nav>
        </>
      ) : null}
      <AnswerLine outcome={changeState.outcome} testId="apt-answer" />
      {changeState.output ? (
        <details>
          <summary>apt output</summary>
          <pre data-testid="apt-output">{changeState.output}</pre>
        </details>
      ) : null}
      <ProgressLog session={session} topic={topics.aptProgress(device.base)} lineOf={progressLine} label="apt progress" testId="apt-progress" />
      <ReposPanel device={device} session={session} />
    </div>
  );
}
