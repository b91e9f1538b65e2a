// A live terminal on one sketch: its output from B/sketches/<id>/stdout, what is typed to
// B/sketches/<id>/stdin. Loaded on demand (xterm.js is most of the console's weight).
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef } from 'preact/hooks';
import { topics } from '../../src/api/topics.js';
import type { Session } from './session.js';

export function SketchTerminal({ session, base, sketch }: { session: Session; base: string; sketch: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const term = new Terminal({ convertEol: true, fontSize: 13, rows: 16, cursorBlink: true, scrollback: 2000 });
    term.open(host.current!);
    const fit = () => {
      // Columns follow the panel's width (a phone gets fewer); 8 px is about a 13 px cell.
      const cols = Math.max(20, Math.floor((host.current?.clientWidth ?? 640) / 8) - 2);
      term.resize(cols, 16);
    };
    fit();
    addEventListener('resize', fit);
    const unsubscribe = session.subscribe(topics.sketchStdout(base, sketch), (_topic, payload) => term.write(payload));
    const typing = term.onData((data) => session.publish(topics.sketchStdin(base, sketch), data));
    term.focus();
    return () => {
      removeEventListener('resize', fit);
      typing.dispose();
      unsubscribe();
      term.dispose();
    };
  }, [session, base, sketch]);
  return (
    <section class="terminal panel" aria-label={`terminal of ${sketch}`}>
      <h2>
        Terminal: <code>{sketch}</code>
      </h2>
      <div ref={host} class="xterm-host" data-testid="terminal" data-sketch={sketch} />
    </section>
  );
}
