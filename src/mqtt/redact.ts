// -debug-mqtt logs every message; tokens and passwords must never reach that log.

// psk: NetworkManager's name for a Wi-Fi key.
const secretKeys = /^(token|password|passwd|secret|authorization|client_secret|private_key|psk)$/i;

const secretQueryKeys = /^(token|access_token|password|passwd|secret|sig|signature|key|auth|x-amz-signature|x-amz-credential)$/i;

/** A URL with its password and secret-looking query values replaced (upload URLs can carry
 * tokens in their query string). */
function redactUrl(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  try {
    const url = new URL(text);
    let changed = false;
    if (url.password) {
      url.password = '***';
      changed = true;
    }
    for (const key of [...url.searchParams.keys()]) {
      if (secretQueryKeys.test(key)) {
        url.searchParams.set(key, '***');
        changed = true;
      }
    }
    return changed ? url.toString() : text;
  } catch {
    return text;
  }
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = secretKeys.test(k) ? '***' : redactValue(v);
    return out;
  }
  return value;
}

/** The payload as text fit for a log line: secrets of JSON payloads replaced, long payloads cut. */
export function redactPayload(payload: Buffer | string, maxLength = 2000): string {
  const text = (typeof payload === 'string' ? payload : payload.toString('utf8')).trimEnd();
  let shown: string;
  try {
    const parsed: unknown = JSON.parse(text);
    shown = parsed && typeof parsed === 'object' ? JSON.stringify(redactValue(parsed)) : text;
  } catch {
    // Not JSON (or broken JSON): still hide anything shaped like a secret field.
    // A value written without its quotes is hidden up to the next comma or brace.
    shown = text.replace(/("(?:token|password|passwd|secret|authorization|psk)"\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|[^,}\s]+)/gi, '$1"***"');
  }
  return shown.length > maxLength ? `${shown.slice(0, maxLength)}… (${shown.length} chars)` : shown;
}
