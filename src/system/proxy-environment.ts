/** Proxy URLs for HTTP, HTTPS and everything else; an empty or missing one is not exported. */
export interface ProxySettings {
  http_proxy?: string;
  https_proxy?: string;
  all_proxy?: string;
}

/** Exports the proxy settings to an environment (the agent's own, so HTTP clients and child
 * processes inherit them, or a sketch's), in both spellings, with loopback always exempt so
 * local brokers and services stay direct. */
export function applyProxyEnvironment(settings: ProxySettings, env: Record<string, string | undefined> = process.env): void {
  for (const key of ['http_proxy', 'https_proxy', 'all_proxy'] as const) {
    const value = settings[key];
    if (!value) continue;
    env[key] = value;
    env[key.toUpperCase()] = value;
  }
  if (settings.http_proxy || settings.https_proxy || settings.all_proxy) {
    const existing = (env.no_proxy ?? env.NO_PROXY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const merged = [...new Set([...existing, 'localhost', '127.0.0.1', '::1'])].join(',');
    env.no_proxy = merged;
    env.NO_PROXY = merged;
  }
}
