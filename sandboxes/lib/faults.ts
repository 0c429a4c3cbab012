/**
 * Fault injection: tests (and operators poking a running sandbox) make a partner slow, down,
 * rate-limiting, hanging or talking nonsense, per route, for a number of requests or until
 * cleared. The registry only decides *which* fault applies to a request; the sandbox server
 * (server.ts) carries it out, in this order: wait `latencyMs`; then `hang` (no answer until the
 * server closes or the client gives up), or answer `status` (with the partner's error body and
 * `Retry-After` when `retryAfterSeconds` is set), or run the real handler and corrupt its answer
 * (`malformed`); with none of those, the real answer is sent after the delay.
 */
export type MalformedKind = 'invalid-json' | 'schema-violation';

export interface FaultSpec {
  /** HTTP method to match (case-insensitive); any method when omitted. */
  method?: string;
  /**
   * Route to match. A string matches when it equals the route template with or without the API
   * base path (`/open-banking/v4.0/aisp/accounts/{AccountId}/transactions` or
   * `/accounts/{AccountId}/transactions`) or the concrete request path
   * (`/open-banking/v4.0/aisp/accounts/22289/transactions`). A RegExp is tested against the
   * concrete path and the full template. Omitted: every route.
   */
  path?: string | RegExp;
  /** Delay before answering (applies before any other effect). */
  latencyMs?: number;
  /** Answer with this status (typically 5xx or 429) and the partner's error body. */
  status?: number;
  /** Sets Retry-After (seconds); meant for 429/503. */
  retryAfterSeconds?: number;
  /** Never answer; the connection is released when the sandbox closes or the client aborts. */
  hang?: boolean;
  /** Answer the real response corrupted: truncated JSON, or valid JSON that breaks the spec. */
  malformed?: MalformedKind;
  /** Close the connection without any answer (the client sees a reset / socket hang up). */
  reset?: boolean;
  /**
   * Let the real handler run first, so the request takes effect (a payment is created), then
   * apply hang, reset or status instead of its answer: "the payment WAS created but the response
   * is lost". (malformed always corrupts the real answer, so it needs no flag.)
   */
  afterHandler?: boolean;
  /** Apply to this many matching requests, then remove itself. Unlimited when omitted. */
  times?: number;
}

export interface Fault extends FaultSpec {
  id: string;
  /** Requests this fault has been applied to so far. */
  hits: number;
}

export interface FaultTarget {
  method: string;
  /** Concrete path without query string. */
  path: string;
  /** Full route template (with the API base path), when the route is known. */
  template?: string;
  /** Template as written in the spec (without base path). */
  specPath?: string;
}

/** JSON shape accepted by `POST /__sandbox/faults` (a RegExp travels as `pathRegex`). */
export interface FaultSpecJson extends Omit<FaultSpec, 'path'> {
  path?: string;
  pathRegex?: string;
}

export class FaultRegistry {
  #faults: Fault[] = [];
  #counter = 0;

  /** Registers a fault; returns it (its `id` can be passed to `remove`). */
  inject(spec: FaultSpec): Fault {
    validateFaultSpec(spec);
    const fault: Fault = { ...spec, id: `fault-${++this.#counter}`, hits: 0 };
    this.#faults.push(fault);
    return fault;
  }

  remove(id: string): boolean {
    const before = this.#faults.length;
    this.#faults = this.#faults.filter((f) => f.id !== id);
    return this.#faults.length !== before;
  }

  clear(): void {
    this.#faults = [];
  }

  list(): Fault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  /**
   * The first registered fault matching the request, consumed once (its `times` budget is
   * decremented and it is removed when exhausted). Undefined when none applies.
   */
  take(target: FaultTarget): Fault | undefined {
    const fault = this.#faults.find((f) => faultMatches(f, target));
    if (!fault) return undefined;
    fault.hits++;
    if (fault.times !== undefined) {
      fault.times--;
      if (fault.times <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    }
    return { ...fault };
  }
}

export function faultMatches(fault: FaultSpec, target: FaultTarget): boolean {
  if (fault.method && fault.method.toUpperCase() !== target.method.toUpperCase()) return false;
  if (fault.path === undefined) return true;
  if (typeof fault.path === 'string') {
    return fault.path === target.path || fault.path === target.template || fault.path === target.specPath;
  }
  const re = fault.path;
  const test = (value: string | undefined): boolean => {
    if (value === undefined) return false;
    re.lastIndex = 0;
    return re.test(value);
  };
  return test(target.path) || test(target.template);
}

export function validateFaultSpec(spec: FaultSpec): void {
  const problems: string[] = [];
  if (spec.latencyMs !== undefined && !(Number.isFinite(spec.latencyMs) && spec.latencyMs >= 0))
    problems.push('latencyMs must be a non-negative number');
  if (spec.status !== undefined && !(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599))
    problems.push('status must be an HTTP error status (400-599)');
  if (
    spec.retryAfterSeconds !== undefined &&
    !(Number.isInteger(spec.retryAfterSeconds) && spec.retryAfterSeconds >= 0)
  )
    problems.push('retryAfterSeconds must be a non-negative integer');
  if (spec.times !== undefined && !(Number.isInteger(spec.times) && spec.times > 0))
    problems.push('times must be a positive integer');
  if (spec.malformed !== undefined && spec.malformed !== 'invalid-json' && spec.malformed !== 'schema-violation')
    problems.push("malformed must be 'invalid-json' or 'schema-violation'");
  if (spec.hang !== undefined && typeof spec.hang !== 'boolean') problems.push('hang must be a boolean');
  if (spec.reset !== undefined && typeof spec.reset !== 'boolean') problems.push('reset must be a boolean');
  if (spec.afterHandler !== undefined && typeof spec.afterHandler !== 'boolean')
    problems.push('afterHandler must be a boolean');
  const effects = [
    spec.hang === true,
    spec.reset === true,
    spec.status !== undefined,
    spec.malformed !== undefined,
  ].filter(Boolean).length;
  if (effects > 1) problems.push('choose at most one of hang, reset, status, malformed');
  if (effects === 0 && spec.latencyMs === undefined)
    problems.push('a fault needs latencyMs, hang, reset, status or malformed');
  if (spec.afterHandler && !(spec.hang || spec.reset || spec.status !== undefined))
    problems.push('afterHandler needs hang, reset or status');
  if (problems.length) throw new RangeError(`invalid fault: ${problems.join('; ')}`);
}

/** Converts the JSON body of `POST /__sandbox/faults` into a FaultSpec (throws RangeError on junk). */
export function faultSpecFromJson(input: unknown): FaultSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new RangeError('fault must be a JSON object');
  const raw = input as Record<string, unknown>;
  const allowed = new Set([
    'method',
    'path',
    'pathRegex',
    'latencyMs',
    'status',
    'retryAfterSeconds',
    'hang',
    'reset',
    'afterHandler',
    'malformed',
    'times',
  ]);
  const unknown = Object.keys(raw).filter((k) => !allowed.has(k));
  if (unknown.length) throw new RangeError(`unknown fault fields: ${unknown.join(', ')}`);
  if (raw.path !== undefined && raw.pathRegex !== undefined) throw new RangeError('use path or pathRegex, not both');
  const spec: FaultSpec = {};
  if (raw.method !== undefined) spec.method = String(raw.method);
  if (typeof raw.path === 'string') spec.path = raw.path;
  if (typeof raw.pathRegex === 'string') {
    try {
      spec.path = new RegExp(raw.pathRegex);
    } catch {
      throw new RangeError('pathRegex is not a valid regular expression');
    }
  }
  for (const key of ['latencyMs', 'status', 'retryAfterSeconds', 'times'] as const) {
    if (raw[key] !== undefined) spec[key] = Number(raw[key]);
  }
  if (raw.hang !== undefined) spec.hang = raw.hang as boolean;
  if (raw.reset !== undefined) spec.reset = raw.reset as boolean;
  if (raw.afterHandler !== undefined) spec.afterHandler = raw.afterHandler as boolean;
  if (raw.malformed !== undefined) spec.malformed = raw.malformed as MalformedKind;
  validateFaultSpec(spec);
  return spec;
}

/** A fault as JSON (RegExp path rendered as `pathRegex`). */
export function faultToJson(fault: Fault): Record<string, unknown> {
  const { path, ...rest } = fault;
  if (path instanceof RegExp) return { ...rest, pathRegex: path.source };
  return path === undefined ? rest : { ...rest, path };
}
