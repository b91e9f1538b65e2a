// The live lines of a stream (B/apt/progress, B/containers/progress) while the tab is open: the
// latest lines only, so a long apt run never grows the page without end.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Session } from './session.js';

const KEEP = 200;
const decoder = new TextDecoder();

/** Subscribes to `topic` while mounted; `lineOf` turns a payload into a line, or drops it. */
export function ProgressLog({ session, topic, lineOf, label, testId }: { session: Session; topic: string; lineOf(payload: string): string | undefined; label: string; testId: string }) {
  const [lines, setLines] = useState<string[]>([]);
  const box = useRef<HTMLPreElement>(null);
  useEffect(
    () =>
      session.subscribe(topic, (_topic, payload) => {
        let line: string | undefined;
        try {
          line = lineOf(decoder.decode(payload));
        } catch {
          line = undefined;
        }
        if (line !== undefined) setLines((l) => [...l.slice(-(KEEP - 1)), line]);
      }),
    // lineOf is a module-level function in both callers: it never changes.
    [session, topic],
  );
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);
  if (lines.length === 0) return null;
  return (
    <section class="progress" aria-label={label}>
      <div class="toolbar">
        <h3>{label}</h3>
        <button type="button" onClick={() => setLines([])}>
          Clear
        </button>
      </div>
      <pre ref={box} data-testid={testId} tabIndex={0} aria-live="off">
        {lines.join('\n')}
      </pre>
    </section>
  );
}
