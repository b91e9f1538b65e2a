// One device: its state at the top, then a tab per family (sketches, stats, packages, containers, system).
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { ago, versionOf } from './fleet-view.js';
import { isOnline, type ConsoleConfig, type Device, type Fleet } from './fleet.js';
import { useFleetRevision } from './hooks.js';
import type { Session } from './session.js';
import { SketchesTab } from './sketches-tab.js';
import { StatsTab } from './stats-tab.js';

// Tabs past the first two load when opened: the first page stays within its budget.
const PackagesTab = lazy(() => import('./packages-tab.js').then((m) => ({ default: m.PackagesTab })));
const ContainersTab = lazy(() => import('./containers-tab.js').then((m) => ({ default: m.ContainersTab })));
const SystemTab = lazy(() => import('./system-tab.js').then((m) => ({ default: m.SystemTab })));

type TabProps = { device: Device; session: Session; fleet: Fleet; config: ConsoleConfig };
const panels = {
  sketches: (p: TabProps) => <SketchesTab device={p.device} session={p.session} fleet={p.fleet} drop={p.config.deploy} />,
  stats: (p: TabProps) => <StatsTab device={p.device} session={p.session} />,
  packages: (p: TabProps) => <PackagesTab {...p} />,
  containers: (p: TabProps) => <ContainersTab {...p} />,
  system: (p: TabProps) => <SystemTab device={p.device} session={p.session} />,
};
type Tab = keyof typeof panels;
const tabs = Object.keys(panels) as Tab[];

export function DevicePage({ id, session, fleet, config }: { id: string; session: Session; fleet: Fleet; config: ConsoleConfig }) {
  useFleetRevision(fleet);
  const [tab, setTab] = useState<Tab>('sketches');
  const device = fleet.get(id);
  if (!device)
    return (
      <section class="panel">
        <p>
          No device <code>{id}</code> seen yet. <a href="#/">Back to the fleet</a>
        </p>
      </section>
    );
  const now = Date.now();
  const online = isOnline(device, now, fleet.staleAfterMs);
  return (
    <section class="device-page">
      <nav class="crumbs">
        <a href="#/">← fleet</a>
      </nav>
      <h1>
        <span class="id">{device.id}</span> <span class={`badge ${online ? 'on' : 'off'}`} data-testid="device-state">{online ? 'online' : 'offline'}</span>
      </h1>
      <dl class="facts">
        <dt>version</dt>
        <dd>{versionOf(device)}</dd>
        <dt>host</dt>
        <dd>{device.presence?.host ?? '—'}</dd>
        <dt>last heartbeat</dt>
        <dd>{ago(device.lastHeartbeat, now)}</dd>
        <dt>base topic</dt>
        <dd>
          <code>{device.base}</code>
        </dd>
      </dl>
      <div
        role="tablist"
        class="tabs"
        onKeyDown={(e) => {
          // The tab pattern of WAI-ARIA: arrows move between tabs, Tab leaves the list.
          if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
          const next = tabs[(tabs.indexOf(tab) + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]!;
          setTab(next);
          document.getElementById(`tab-${next}`)?.focus();
        }}
      >
        {tabs.map((t) => (
          <button key={t} role="tab" id={`tab-${t}`} aria-selected={tab === t} tabIndex={tab === t ? 0 : -1} aria-controls={`panel-${t}`} onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        <Suspense fallback={<p>loading…</p>}>{panels[tab]({ device, session, fleet, config })}</Suspense>
      </div>
    </section>
  );
}
