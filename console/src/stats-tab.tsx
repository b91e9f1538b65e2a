// Memory and disk of one device as charts over this page's session: stats asked every 5 s while
// the tab is open.
import { useEffect, useState } from 'preact/hooks';
import { decodeBody } from '../../src/api/answer.js';
import type { NetworkStats, StatsBody } from '../../src/api/stats.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';
import { DataTable } from './data-table.js';

const PERIOD_MS = 5000;
const KEEP = 120;

interface Sample {
  at: number;
  memoryUsed: number;
  diskUsed: number;
}

function sampleOf(body: StatsBody, at: number): Sample {
  const m = body.memory;
  const root = body.disk.find((d) => d.MountPoint === '/') ?? body.disk[0];
  return {
    at,
    memoryUsed: m.TotalMem > 0 ? (100 * (m.TotalMem - m.AvailableMem)) / m.TotalMem : 0,
    diskUsed: root && root.DiskSize > 0 ? (100 * (root.DiskSize - root.AvailableSpace)) / root.DiskSize : 0,
  };
}

function Chart({ samples, pick, label }: { samples: Sample[]; pick(s: Sample): number; label: string }) {
  const w = 300;
  const h = 80;
  const points = samples.map((s, i) => `${samples.length < 2 ? 0 : (i * w) / (samples.length - 1)},${h - (pick(s) * h) / 100}`).join(' ');
  const last = samples.at(-1);
  return (
    <figure class="chart">
      <figcaption>
        {label}: {last ? `${pick(last).toFixed(1)} %` : '—'}
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label} over time`} preserveAspectRatio="none" data-testid={`chart-${label}`}>
        <rect x="0" y="0" width={w} height={h} class="chart-bg" />
        {samples.length > 0 ? <polyline points={points} class="chart-line" /> : null}
      </svg>
    </figure>
  );
}

/** NetworkManager's devices and the access points a Wi-Fi device sees, from the latest reading. */
function Network({ network, error }: { network: NetworkStats | null | undefined; error: string | undefined }) {
  if (network === undefined) return null;
  if (network === null)
    return (
      <p class="answer" data-testid="network-unavailable">
        network: {error ?? 'not available'}
      </p>
    );
  const aps = network.Devices.flatMap((d) => (d.AccessPoints ?? []).map((ap) => ({ ...ap, device: d.Interface })));
  return (
    <>
      <h3>Network ({network.Status})</h3>
      <DataTable label="network devices" columns={['interface', 'type', 'state', 'IPv4']}>
        {network.Devices.map((d) => (
          <tr key={d.Path}>
            <th scope="row">{d.Interface}</th>
            <td>{d.DeviceType.replace(/^NmDeviceType/, '')}</td>
            <td>{d.State.replace(/^NmDeviceState/, '')}</td>
            <td>{d.IP4Config?.Addresses.map((a) => `${a.Address}/${a.Prefix}`).join(', ') || '—'}</td>
          </tr>
        ))}
      </DataTable>
      {aps.length > 0 ? (
        <DataTable label="access points" columns={['SSID', 'strength', 'MHz', 'seen by']}>
          {aps.map((ap) => (
            <tr key={`${ap.device}-${ap.HWAddress}`}>
              <th scope="row">{ap.SSID}</th>
              <td>{ap.Strength} %</td>
              <td>{ap.Frequency}</td>
              <td>{ap.device}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </>
  );
}

export function StatsTab({ device, session }: { device: Device; session: Session }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [outcome, setOutcome] = useState<Outcome>();
  const [latest, setLatest] = useState<StatsBody>();
  useEffect(() => {
    let stopped = false;
    const ask = async () => {
      const result = await session.request(device.base, 'stats', {}, PERIOD_MS * 2);
      if (stopped) return;
      if (result.ok) {
        const body = decodeBody(result.body) as StatsBody;
        setSamples((s) => [...s.slice(-(KEEP - 1)), sampleOf(body, Date.now())]);
        setLatest(body);
        setOutcome(undefined);
      } else setOutcome({ label: 'stats', result });
    };
    void ask();
    const timer = setInterval(() => void ask(), PERIOD_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [session, device.base]);
  return (
    <div class="stats panel">
      <AnswerLine outcome={outcome} testId="stats-answer" />
      <Chart samples={samples} pick={(s) => s.memoryUsed} label="memory used" />
      <Chart samples={samples} pick={(s) => s.diskUsed} label="disk used" />
      <Network network={latest?.network} error={latest?.errors?.network} />
    </div>
  );
}
