// The fleet: every device seen, online first or by id, filtered by id or host.
import { useMemo, useState } from 'preact/hooks';
import { isOnline, runningSketches, type Device, type Fleet } from './fleet.js';
import { useFleetRevision } from './hooks.js';
import { VirtualList } from './virtual-list.js';

type SortKey = 'id' | 'state' | 'heartbeat';

export function ago(ms: number | undefined, now: number): string {
  if (ms === undefined) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export function versionOf(device: Device): string {
  return device.presence?.version ?? device.status?.version ?? '—';
}

export function FleetView({ fleet }: { fleet: Fleet }) {
  const revision = useFleetRevision(fleet);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<SortKey>('id');
  const now = Date.now();
  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const list = [...fleet.devices.values()].filter(
      (d) => needle === '' || d.id.toLowerCase().includes(needle) || (d.presence?.host ?? '').toLowerCase().includes(needle),
    );
    const online = (d: Device) => (isOnline(d, now, fleet.staleAfterMs) ? 0 : 1);
    list.sort((a, b) => {
      if (sort === 'state') return online(a) - online(b) || a.id.localeCompare(b.id);
      if (sort === 'heartbeat') return (b.lastHeartbeat ?? 0) - (a.lastHeartbeat ?? 0) || a.id.localeCompare(b.id);
      return a.id.localeCompare(b.id);
    });
    return list;
    // revision: the store changed in place.
  }, [fleet, revision, filter, sort]);
  const onlineCount = rows.filter((d) => isOnline(d, now, fleet.staleAfterMs)).length;
  return (
    <section class="fleet">
      <div class="toolbar">
        <label>
          Filter <input type="search" name="filter" placeholder="device id or host" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </label>
        <label>
          Sort{' '}
          <select name="sort" value={sort} onChange={(e) => setSort(e.currentTarget.value as SortKey)}>
            <option value="id">by id</option>
            <option value="state">online first</option>
            <option value="heartbeat">last heartbeat</option>
          </select>
        </label>
        <span class="summary" data-testid="fleet-summary" aria-live="polite">
          {rows.length} devices, {onlineCount} online
        </span>
      </div>
      <div class="vrow head" aria-hidden="true">
        <span>device</span>
        <span>state</span>
        <span class="wide">version</span>
        <span class="wide">host</span>
        <span>heartbeat</span>
        <span>running</span>
      </div>
      <VirtualList
        items={rows}
        rowHeight={44}
        label="devices"
        keyOf={(d) => d.id}
        row={(d) => {
          const online = isOnline(d, now, fleet.staleAfterMs);
          return (
            <a class="device" href={`#/device/${encodeURIComponent(d.id)}`} data-device={d.id} data-state={online ? 'online' : 'offline'}>
              <span class="id">{d.id}</span>
              <span class={`badge ${online ? 'on' : 'off'}`}>{online ? 'online' : 'offline'}</span>
              <span class="wide">{versionOf(d)}</span>
              <span class="wide">{d.presence?.host ?? '—'}</span>
              <span>{ago(d.lastHeartbeat, now)}</span>
              <span data-testid="running">{d.status ? runningSketches(d) : '—'}</span>
            </a>
          );
        }}
      />
    </section>
  );
}
