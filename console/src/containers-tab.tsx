// The containers of one device: containers/ps and containers/images as tables, start / stop /
// remove (asks first) / rename per container, and a run form (image, name, registry credentials,
// the engine's own configuration objects) with the pull's progress from B/containers/progress.
import { useEffect, useState } from 'preact/hooks';
import { decodeBody } from '../../src/api/answer.js';
import type { ContainerActionResult } from '../../src/api/containers.js';
import type { ContainerProgress } from '../../src/api/streams.js';
import { topics } from '../../src/api/topics.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import { ProgressLog } from './progress-log.js';
import { RunForm } from './run-form.js';
import type { Session } from './session.js';
import { DataTable } from './data-table.js';

// The agent gives engine calls 60 s (docs/API.md): the page waits a little longer.
const ENGINE_TIMEOUT_MS = 75_000;

/** The fields of the engine's lists the tables show (the answers pass the engine's lists through). */
interface ContainerSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Status?: string;
}
interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  Size?: number;
  Created?: number;
}

const nameOf = (c: ContainerSummary) => (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
const mib = (bytes: number | undefined) => (bytes === undefined ? '—' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

function progressLine(payload: string): string {
  const p = JSON.parse(payload) as ContainerProgress;
  const bytes = p.total ? ` ${p.current ?? 0}/${p.total}` : '';
  return `${p.image}: ${p.status}${p.layer ? ` ${p.layer}` : ''}${bytes}${p.error ? ` — ${p.error}` : ''}`;
}

function ContainerRow({ c, act, rename }: { c: ContainerSummary; act(c: ContainerSummary, action: 'start' | 'stop' | 'remove'): Promise<void>; rename(c: ContainerSummary, name: string): Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [renaming, setRenaming] = useState<string>();
  const name = nameOf(c);
  return (
    <tr data-container={name}>
      <th scope="row" class="id">
        {name}
      </th>
      <td class="wide">{c.Image}</td>
      <td data-testid="container-state" class={`state ${c.State === 'running' ? 'running' : ''}`}>
        {c.State}
        <small> {c.Status}</small>
      </td>
      <td class="actions">
        <button onClick={() => void act(c, 'start')}>start</button>
        <button onClick={() => void act(c, 'stop')}>stop</button>
        {confirming ? (
          <span class="confirm" role="group" aria-label={`remove ${name}?`}>
            <button
              class="danger"
              ref={(el) => el?.focus()}
              onClick={() => {
                setConfirming(false);
                void act(c, 'remove');
              }}
            >
              confirm remove
            </button>
            <button onClick={() => setConfirming(false)}>cancel</button>
          </span>
        ) : (
          <button class="danger" onClick={() => setConfirming(true)}>
            remove
          </button>
        )}
        {renaming === undefined ? (
          <button onClick={() => setRenaming(name)}>rename</button>
        ) : (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void rename(c, renaming.trim()).then(() => setRenaming(undefined));
            }}
          >
            <input aria-label={`new name for ${name}`} required value={renaming} ref={(el) => el?.focus()} onInput={(e) => setRenaming(e.currentTarget.value)} />
            <button type="submit">save name</button>
            <button type="button" onClick={() => setRenaming(undefined)}>
              cancel
            </button>
          </form>
        )}
      </td>
    </tr>
  );
}

export function ContainersTab({ device, session }: { device: Device; session: Session }) {
  const [containers, setContainers] = useState<ContainerSummary[]>();
  const [images, setImages] = useState<ImageSummary[]>();
  const [listOutcome, setListOutcome] = useState<Outcome>();
  const [actionOutcome, setActionOutcome] = useState<Outcome>();

  const load = async () => {
    const [ps, imgs] = await Promise.all([session.request(device.base, 'containers/ps', {}, ENGINE_TIMEOUT_MS), session.request(device.base, 'containers/images', {}, ENGINE_TIMEOUT_MS)]);
    if (ps.ok) setContainers(decodeBody(ps.body) as ContainerSummary[]);
    if (imgs.ok) setImages(decodeBody(imgs.body) as ImageSummary[]);
    const failed = !ps.ok ? { label: 'containers/ps', result: ps } : !imgs.ok ? { label: 'containers/images', result: imgs } : undefined;
    setListOutcome(failed);
  };
  useEffect(() => void load(), [session, device.base]);

  const act = async (c: ContainerSummary, action: 'start' | 'stop' | 'remove') => {
    const label = `${action} ${nameOf(c)}`;
    setActionOutcome({ pending: label });
    const result = await session.request(device.base, 'containers/action', { action, id: c.Id }, ENGINE_TIMEOUT_MS);
    const done = result.ok ? { ok: true as const, body: `${action} done${pruned(result.body)}` } : result;
    setActionOutcome({ label, result: done });
    await load();
  };
  const rename = async (c: ContainerSummary, name: string) => {
    const label = `rename ${nameOf(c)} to ${name}`;
    setActionOutcome({ pending: label });
    const result = await session.request(device.base, 'containers/rename', { id: c.Id, name }, ENGINE_TIMEOUT_MS);
    setActionOutcome({ label, result: result.ok ? { ok: true, body: 'renamed' } : result });
    await load();
  };

  return (
    <div class="containers">
      <div class="toolbar">
        <h2>Containers</h2>
        <button onClick={() => void load()}>Refresh</button>
      </div>
      <AnswerLine outcome={listOutcome} testId="containers-answer" />
      <AnswerLine outcome={actionOutcome} testId="container-action-answer" />
      <DataTable label="containers" columns={['name', { name: 'image', wide: true }, 'state', 'actions']}>
        {(containers ?? []).map((c) => (
          <ContainerRow key={c.Id} c={c} act={act} rename={rename} />
        ))}
      </DataTable>
      <h2>Images</h2>
      <DataTable label="images" columns={['tags', 'id', 'size']}>
        {(images ?? []).map((i) => (
          <tr key={i.Id} data-image={i.Id}>
            <th scope="row" class="id">
              {i.RepoTags?.filter((t) => t !== '<none>:<none>').join(', ') || '<none>'}
            </th>
            <td class="id">{i.Id.replace(/^sha256:/, '').slice(0, 12)}</td>
            <td>{mib(i.Size)}</td>
          </tr>
        ))}
      </DataTable>
      <RunForm device={device} session={session} onDone={load} />
      <ProgressLog session={session} topic={topics.containersProgress(device.base)} lineOf={progressLine} label="pull progress" testId="pull-progress" />
    </div>
  );
}

/** What a remove's prune took with it, in words. */
function pruned(body: string): string {
  const result = (decodeBody(body) as ContainerActionResult[])[0];
  const images = result?.pruned?.images.length ?? 0;
  return images > 0 ? `; ${images} unused images pruned` : '';
}
