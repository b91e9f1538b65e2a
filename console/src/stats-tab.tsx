// Memory and disk of one device as charts over this page's session: stats asked every 5 s while
// the tab is open.
import { useEffect, useState } from 'preact/hooks';
import { decodeBody } from '../../src/api/answer.js';
import type { StatsBody } from '../../src/api/stats.js';
import { AnswerLine, type Outcome } from './answer-line.js';
import type { Device } from './fleet.js';
import type { Session } from './session.js';

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

export function StatsTab({ device, session }: { device: Device; session: Session }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [outcome, setOutcome] = useState<Outcome>();
  useEffect(() => {
    let stopped = false;
    const ask = async () => {
      const result = await session.request(device.base, 'stats', {}, PERIOD_MS * 2);
      if (stopped) return;
      if (result.ok) {
        const body = decodeBody(result.body) as StatsBody;
        setSamples((s) => [...s.slice(-(KEEP - 1)), sampleOf(body, Date.now())]);
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
    </div>
  );
}
