// The broker URL as MQTT.js connection options, read with the WHATWG URL parser. Given a URL
// string, MQTT.js reads it with node's legacy url.parse(), which Node 24 deprecates with a
// warning printed at every connection (DEP0169); given options, it parses nothing.

import type { IClientOptions } from 'mqtt';
import { ConfigError } from '../errors.js';

export function urlOptions(url: string): IClientOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`url "${url}" is not a valid URL`);
  }
  if (parsed.hostname === '') throw new ConfigError(`url "${url}" names no host`);
  const protocol = parsed.protocol.replace(/:$/, '') as IClientOptions['protocol'];
  const options: IClientOptions = {
    protocol,
    // An IPv6 address is written in brackets in a URL, and without them to connect.
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    // Only WebSocket URLs have a path that matters (MQTT.js drops it for the others).
    path: `${parsed.pathname || '/'}${parsed.search}`,
  };
  options.host = options.hostname;
  if (parsed.port !== '') options.port = Number(parsed.port);
  // As before: credentials written in the URL win over mqtt_username/mqtt_password.
  if (parsed.username !== '') options.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') options.password = decodeURIComponent(parsed.password);
  return options;
}
