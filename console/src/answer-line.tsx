// One command's outcome, shown where it was asked: waiting, the INFO text, the ERROR text, or
// that no answer came in time.
import type { RequestResult } from './session.js';

export type Outcome = { pending: string } | { label: string; result: RequestResult } | undefined;

export function AnswerLine({ outcome, testId }: { outcome: Outcome; testId: string }) {
  if (!outcome) return <p class="answer" data-testid={testId} aria-live="polite" />;
  if ('pending' in outcome)
    return (
      <p class="answer pending" data-testid={testId} aria-live="polite">
        {outcome.pending}…
      </p>
    );
  const { label, result } = outcome;
  const text = result.ok ? result.body : result.timedOut ? result.message : `ERROR: ${result.message}`;
  return (
    <p class={`answer ${result.ok ? 'ok' : result.timedOut ? 'timeout' : 'error'}`} data-testid={testId} role={result.ok ? undefined : 'alert'} aria-live="polite">
      <strong>{label}:</strong> {text}
    </p>
  );
}
