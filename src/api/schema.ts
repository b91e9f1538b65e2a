// A small validator for command payloads. Payloads are flat JSON objects whose errors must name
// the field in the API's own terms ("field \"id\": expected a string"), and the agent has an idle
// memory budget, so this stays a few combinators rather than a general schema library.
//
// Each combinator also says what it accepts as JSON Schema (draft 07, the dialect AsyncAPI 3's
// schemas extend), so docs/asyncapi.yaml is derived from the very objects that validate; the
// field is required, so no combinator can be added without its description.

import { InvalidError } from '../errors.js';
import { quoteValue } from '../text.js';

/** A request that does not fit its command's schema. */
export class ValidationError extends InvalidError {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** A JSON Schema (draft 07) as a plain JSON value. */
export type JsonSchema = { readonly [keyword: string]: unknown };

export interface Schema<T> {
  /** Returns the value as T or throws ValidationError; `at` names the value in messages. */
  parse(value: unknown, at: string): T;
  readonly optional?: boolean;
  /** What parse accepts, as JSON Schema. Where a rule cannot be said in JSON Schema (field names
   * matched without regard to case, a byte length), `description` says it. */
  readonly json: JsonSchema;
}

/** A RegExp as a JSON Schema `pattern`, which has no flags: a case-insensitive pattern is
 * written with both cases of each letter (a character class gets its letters' other case added). */
export function patternOf(pattern: RegExp): string {
  const flags = pattern.flags.replace('i', '');
  if (flags !== '') throw new Error(`pattern ${pattern} has flags JSON Schema cannot say: ${flags}`);
  if (!pattern.flags.includes('i')) return pattern.source;
  // Units: an escape (kept as it is: \s and \S differ) or one character.
  const units: string[] = pattern.source.match(/\\.|[^]/g) ?? [];
  const swap = (unit: string) => (unit.length === 1 && /[a-z]/i.test(unit) ? (unit === unit.toLowerCase() ? unit.toUpperCase() : unit.toLowerCase()) : unit);
  let out = '';
  for (let i = 0; i < units.length; i++) {
    const unit = units[i]!;
    if (unit === '[') {
      const end = units.indexOf(']', i + 1);
      const negated = units[i + 1] === '^';
      const body = units.slice(negated ? i + 2 : i + 1, end);
      const other = body.some((u) => swap(u) !== u) ? body.map(swap).join('') : '';
      out += `[${negated ? '^' : ''}${body.join('')}${other}]`;
      i = end;
    } else {
      out += unit.length === 1 && /[a-z]/i.test(unit) ? `[${unit.toLowerCase()}${unit.toUpperCase()}]` : unit;
    }
  }
  return out;
}

/** `schema` with `description` added to its JSON Schema. */
export function describe<T>(schema: Schema<T>, description: string): Schema<T> {
  return { ...schema, json: { ...schema.json, description } };
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(at: string, expected: string, value: unknown): never {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  throw new ValidationError(`${at}: expected ${expected}, got ${got}`);
}

export interface StringRules {
  /** Minimum length (default 0). */
  min?: number;
  /** Maximum length (default 64 KiB): oversized strings are refused, not truncated. */
  max?: number;
  pattern?: RegExp;
  /** Said in the error when the pattern does not match. */
  patternText?: string;
}

export function str(rules: StringRules = {}): Schema<string> {
  const max = rules.max ?? 65536;
  return {
    json: {
      type: 'string',
      ...(rules.min ? { minLength: rules.min } : {}),
      ...(Number.isFinite(max) ? { maxLength: max } : {}),
      ...(rules.pattern ? { pattern: patternOf(rules.pattern) } : {}),
      ...(rules.patternText ? { description: `It ${rules.patternText}.` } : {}),
    },
    parse(value, at) {
      if (typeof value !== 'string') fail(at, 'a string', value);
      if (value.length < (rules.min ?? 0)) {
        throw new ValidationError(rules.min === 1 ? `${at}: must not be empty` : `${at}: shorter than ${rules.min} characters`);
      }
      if (value.length > max) throw new ValidationError(`${at}: longer than ${max} characters`);
      if (rules.pattern && !rules.pattern.test(value)) {
        throw new ValidationError(`${at}: ${rules.patternText ?? `does not match ${rules.pattern}`}`);
      }
      return value;
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    json: { type: 'boolean' },
    parse(value, at) {
      if (typeof value !== 'boolean') fail(at, 'true or false', value);
      return value;
    },
  };
}

export function int(rules: { min?: number; max?: number } = {}): Schema<number> {
  return {
    json: { type: 'integer', ...(rules.min !== undefined ? { minimum: rules.min } : {}), ...(rules.max !== undefined ? { maximum: rules.max } : {}) },
    parse(value, at) {
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(at, 'an integer', value);
      if (rules.min !== undefined && value < rules.min) throw new ValidationError(`${at}: must be at least ${rules.min}`);
      if (rules.max !== undefined && value > rules.max) throw new ValidationError(`${at}: must be at most ${rules.max}`);
      return value;
    },
  };
}

export function oneOf<const T extends string>(...choices: T[]): Schema<T> {
  return {
    json: { type: 'string', enum: choices },
    parse(value, at) {
      if (typeof value !== 'string') fail(at, `one of ${choices.join(', ')}`, value);
      const hit = choices.find((c) => c === value);
      if (hit === undefined) throw new ValidationError(`${at}: unknown value ${quoteValue(value)}, expected one of ${choices.join(', ')}`);
      return hit;
    },
  };
}

export function arrayOf<T>(item: Schema<T>, rules: { max?: number; min?: number } = {}): Schema<T[]> {
  const max = rules.max ?? 1000;
  return {
    json: { type: 'array', items: item.json, ...(rules.min !== undefined ? { minItems: rules.min } : {}), ...(Number.isFinite(max) ? { maxItems: max } : {}) },
    parse(value, at) {
      if (!Array.isArray(value)) fail(at, 'an array', value);
      if (value.length > max) throw new ValidationError(`${at}: more than ${max} elements`);
      if (rules.min !== undefined && value.length < rules.min) throw new ValidationError(`${at}: needs at least ${rules.min} element(s)`);
      return value.map((v, i) => item.parse(v, `${at}[${i}]`));
    },
  };
}

/** Any JSON object, passed through as it is (Docker API shapes, for example), at most
 * `maxDepth` levels deep counting itself. */
export function jsonObject(rules: { maxDepth?: number } = {}): Schema<Record<string, unknown>> {
  const maxDepth = rules.maxDepth ?? 10;
  return {
    json: { type: 'object', description: `Any JSON object, nested at most ${maxDepth} levels deep.` },
    parse(value, at) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(at, 'an object', value);
      if (depthOf(value, maxDepth) > maxDepth) throw new ValidationError(`${at}: nested deeper than ${maxDepth} levels`);
      return value as Record<string, unknown>;
    },
  };
}

/** How deep objects and arrays nest in a parsed value; stops looking past `stopAfter`. */
function depthOf(value: unknown, stopAfter: number, depth = 1): number {
  if (typeof value !== 'object' || value === null) return depth - 1;
  if (depth > stopAfter) return depth;
  let deepest = depth;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, depthOf(child, stopAfter, depth + 1));
    if (deepest > stopAfter) break;
  }
  return deepest;
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return {
    optional: true,
    // Absent or null both mean "not given"; the document says absent, the stricter of the two.
    json: inner.json,
    parse(value, at) {
      return value === undefined || value === null ? undefined : inner.parse(value, at);
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };

/**
 * An object with known fields. Unknown fields are ignored and field names are matched without
 * regard to case, as the Go agent's JSON decoder did (`{"ID":…,"Action":"START"}` worked there);
 * a field named exactly wins over one that differs only in case.
 */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const required = Object.entries(shape).filter(([, schema]) => !schema.optional).map(([key]) => key);
  return {
    json: {
      type: 'object',
      properties: Object.fromEntries(Object.entries(shape).map(([key, schema]) => [key, schema.json])),
      ...(required.length > 0 ? { required } : {}),
      description: 'Field names match without regard to case (an exact match wins); unknown fields are ignored.',
    },
    parse(value, at) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(at, 'a JSON object', value);
      const source = value as Record<string, unknown>;
      let folded: Map<string, unknown> | undefined;
      const out: Record<string, unknown> = {};
      for (const [key, schema] of Object.entries(shape)) {
        let raw = Object.prototype.hasOwnProperty.call(source, key) ? source[key] : undefined;
        if (raw === undefined) {
          folded ??= new Map(Object.keys(source).map((k) => [k.toLowerCase(), source[k]]));
          raw = folded.get(key.toLowerCase());
        }
        const where = at === '' ? `field "${key}"` : `${at}.${key}`;
        if (raw === undefined && !schema.optional) throw new ValidationError(`${where}: missing`);
        const parsed = schema.parse(raw, where);
        if (parsed !== undefined) out[key] = parsed;
      }
      return out as ObjectOf<S>;
    },
  };
}

/** A schema whose parsed value is completed or checked further by `finish` (which throws
 * ValidationError naming the field); `json` adds what that check requires to the description. */
export function refine<T, U>(inner: Schema<T>, finish: (value: T, at: string) => U, json: JsonSchema = {}): Schema<U> {
  return {
    optional: inner.optional,
    json: { ...inner.json, ...json },
    parse: (value, at) => finish(inner.parse(value, at), at),
  };
}

// What answers and streams carry, described so that docs/asyncapi.yaml can state it and tests can
// check the agent's real answers against it.

/** Text of any length, as the agent writes it; `description` says what it holds. */
export function text(description?: string): Schema<string> {
  const plain = str({ max: Infinity });
  return description === undefined ? plain : describe(plain, description);
}

/** A list of any length. */
export function listOf<T>(item: Schema<T>): Schema<T[]> {
  return arrayOf(item, { max: Infinity });
}

/** Any finite number (kilobytes, seconds). */
export function num(): Schema<number> {
  return {
    json: { type: 'number' },
    parse(value, at) {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(at, 'a number', value);
      return value;
    },
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    optional: inner.optional,
    json: { anyOf: [inner.json, { type: 'null' }] },
    parse: (value, at) => (value === null ? null : inner.parse(value, at)),
  };
}

/** Exactly null (a field the Go agent always sent empty). */
export function nullValue(): Schema<null> {
  return {
    json: { type: 'null' },
    parse(value, at) {
      if (value !== null) fail(at, 'null', value);
      return null;
    },
  };
}

/** An object used as a map from any key to values of one schema. */
export function record<T>(value: Schema<T>): Schema<Record<string, T>> {
  return {
    json: { type: 'object', additionalProperties: value.json },
    parse(input, at) {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) fail(at, 'an object', input);
      return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, value.parse(v, `${at}[${JSON.stringify(k)}]`)]));
    },
  };
}

/** Any JSON value, passed through (the Docker engine's own shapes). */
export function anyJson(description: string): Schema<unknown> {
  return { json: { description }, parse: (value) => value };
}

/** An object the agent writes: exactly these fields, each named exactly so. */
export function fixedObject<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const loose = object(shape);
  // The request objects' schema without what only they allow (names in any case, other fields).
  const { description: _lenient, ...json } = loose.json;
  return { json: { ...json, additionalProperties: false }, parse: loose.parse };
}
