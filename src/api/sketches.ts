// status, upload and sketch: the sketch table and the commands that change it.

import { fileName, httpUrl } from './fields.js';
import { object, oneOf, optional, str } from './schema.js';

export const statusRequests = {
  status: object({}),
};

export const sketchRequests = {
  upload: object({ token: optional(str({ max: 8192 })), url: httpUrl, name: fileName, id: fileName }),
  sketch: object({ id: fileName, name: optional(fileName), action: oneOf('START', 'STOP', 'PAUSE', 'DELETE') }),
};

export type SketchState = 'RUNNING' | 'STOPPED' | 'PAUSED';

export interface SketchStatus {
  name: string;
  id: string;
  pid: number;
  status: SketchState;
  endpoints: null;
  /** Beyond the Go agent: how a sketch that ended by itself ended. */
  exit_code?: number | null;
  signal?: string | null;
}

export interface StatusBody {
  sketches: Record<string, SketchStatus>;
}
