// Preact hooks over the session and the fleet store.
import { useEffect, useState } from 'preact/hooks';
import type { Fleet } from './fleet.js';
import type { Session, SessionState } from './session.js';

export function useSessionState(session: Session): SessionState {
  const [state, setState] = useState(session.state);
  useEffect(() => session.onState(setState), [session]);
  return state;
}

/** Re-renders the caller whenever the fleet changed (at most once a frame). */
export function useFleetRevision(fleet: Fleet): number {
  const [revision, setRevision] = useState(fleet.revision);
  useEffect(() => fleet.onChange(() => setRevision(fleet.revision)), [fleet]);
  return revision;
}

/** The part of the address after `#`, kept in step with the browser's. */
export function useRoute(): string {
  const [route, setRoute] = useState(location.hash.slice(1) || '/');
  useEffect(() => {
    const onHash = () => setRoute(location.hash.slice(1) || '/');
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}
