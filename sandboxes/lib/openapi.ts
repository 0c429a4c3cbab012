import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../lib/config.ts';
import {
  PartnerSpecMissingError,
  partnerSpecPath,
  partnerSpecsDir,
  partnerSpecsProblem,
  partnerSpecsStatus,
  type PartnerSpecName,
} from './partner-specs.ts';

/**
 * Loads a partner's OpenAPI 3.0 document and validates concrete HTTP requests and responses
 * against it. The sandboxes use it to reject what the real partner would reject (and to record
 * those violations), the contract tests use it on every sandbox response, and adapter contract
 * tests use it on what adapters send.
 *
 *   const spec = loadPartnerSpec('obie-ais');
 *   spec.validateRequest({ method: 'GET', path: '/open-banking/v4.0/aisp/accounts', headers });
 *   spec.validateResponse({ method: 'GET', path: '/open-banking/v4.0/aisp/accounts', status: 200, body });
 *
 * Both return a list of human-readable violations; empty means valid.
 *
 * Paths are concrete URL paths (no query string) matched against the spec's templated paths,
 * under the API base path taken from `servers[0].url`:
 * - a relative server URL (OBIE: `/open-banking/v4.0/aisp`) is required as a prefix;
 * - an absolute server URL (Berlin Group `https://api.testbank.com/psd2`, Onfido
 *   `https://api.{region}.onfido.com/v3.6`) names an example host, so its path is optional:
 *   `/v1/accounts` and `/psd2/v1/accounts` both match the Berlin Group `/v1/accounts`.
 * Pass `{ basePath }` to force a required prefix instead.
 *
 * OpenAPI 3.0 dialect handled on load: internal `$ref`s are resolved (schemas are registered
 * with ajv under one id, parameters/responses/request bodies are dereferenced here),
 * `nullable: true` becomes a `null` type, boolean `exclusiveMinimum/Maximum` become the
 * draft-07 numeric form, `discriminator.mapping` on a `oneOf` becomes an explicit if/then chain
 * (the Onfido report union is not otherwise decidable), and the OpenAPI formats (int32, int64,
 * float, double, byte, binary, url) are registered. ajv runs with `strict: false` because the
 * specs carry `example`, `x-*` and other keywords ajv's strict mode rejects.
 *
 * Not checked: cookies, `style`/`explode` other than the defaults, non-JSON bodies (XML,
 * text/plain, multipart), and response headers unless you pass them.
 */

export interface SpecRequest {
  method: string;
  /** Concrete path, e.g. `/open-banking/v4.0/aisp/accounts/22289`; a query string is ignored (pass `query`). */
  path: string;
  query?: URLSearchParams | Record<string, string | string[] | undefined>;
  headers?: Record<string, string | string[] | undefined> | Headers;
  /** Parsed JSON body, or the raw string (parsed here when the media type is JSON). */
  body?: unknown;
  /** Defaults to the `content-type` header, then application/json. */
  contentType?: string;
}

export interface SpecResponse {
  method: string;
  path: string;
  status: number;
  /** Parsed JSON body, or the raw text (a string that is not JSON is a violation when JSON is documented). */
  body?: unknown;
  /** When given, required response headers are checked. */
  headers?: Record<string, string | string[] | undefined> | Headers;
  /** Selects the documented media type; defaults to the header's content-type, then JSON. */
  contentType?: string;
}

export type ViolationLocation = 'route' | 'path' | 'query' | 'header' | 'body' | 'security' | 'status';

export interface Violation {
  in: ViolationLocation;
  /** Parameter/header name, or JSON pointer into the body. */
  name?: string;
  message: string;
  /** ajv keyword that failed (required, type, pattern, enum, ...), when from schema validation. */
  keyword?: string;
}

export interface MatchedOperation {
  method: string;
  /** Path as written in the spec, e.g. `/accounts/{AccountId}`. */
  specPath: string;
  /** Base path + spec path, e.g. `/open-banking/v4.0/aisp/accounts/{AccountId}`. */
  template: string;
  operationId?: string;
  params: Record<string, string>;
}

export interface LoadedSpec {
  file: string;
  title: string;
  version: string;
  /** Base path prefix from servers[0] (or the `basePath` option). */
  basePath: string;
  /** Whether `basePath` must prefix request paths (see module comment). */
  basePathRequired: boolean;
  matchOperation(method: string, path: string): MatchedOperation | undefined;
  validateRequest(req: SpecRequest): string[];
  validateRequestDetailed(req: SpecRequest): { operation?: MatchedOperation; violations: Violation[] };
  validateResponse(res: SpecResponse): string[];
  validateResponseDetailed(res: SpecResponse): { operation?: MatchedOperation; violations: Violation[] };
  /** Validates any value against a named component schema (`#/components/schemas/<name>`). */
  validateSchema(name: string, value: unknown): string[];
  /** All operations of the spec (method, spec path, template, operationId). */
  operations(): Array<Omit<MatchedOperation, 'params'>>;
}

export interface LoadSpecOptions {
  /** Forces a required base path (e.g. '' for none). */
  basePath?: string;
}

// ---------------------------------------------------------------------------------------------
// Locating the spec files: lib/partner-specs.ts (file-system checks only, light to load)

export {
  PARTNER_SPEC_FILES,
  PartnerSpecMissingError,
  partnerSpecPath,
  partnerSpecsDir,
  partnerSpecsNotice,
  partnerSpecsProblem,
  partnerSpecsStatus,
  repoRoot,
  type PartnerSpecName,
  type PartnerSpecsStatus,
} from './partner-specs.ts';

// One load per file (not per name): a test or a process that changes PARTNER_SPECS_DIR gets the other folder's
// document.
const partnerCache = new Map<string, LoadedSpec>();

/** The partner's spec, loaded once per process; throws PartnerSpecMissingError when it is absent. */
export function loadPartnerSpec(name: PartnerSpecName): LoadedSpec {
  const file = partnerSpecPath(name);
  let spec = partnerCache.get(file);
  if (!spec) {
    if (!existsSync(file)) throw new PartnerSpecMissingError(name, file);
    spec = loadSpec(file);
    partnerCache.set(file, spec);
  }
  return spec;
}

/**
 * The partner's spec when it is available, else undefined (the sandboxes then answer without
 * validating that partner's exchanges). An explicit PARTNER_SPECS_DIR that lacks it throws the
 * ConfigError of partnerSpecsProblem.
 */
export function optionalPartnerSpec(name: PartnerSpecName): LoadedSpec | undefined {
  const status = partnerSpecsStatus();
  const problem = partnerSpecsProblem(status);
  if (problem) throw new ConfigError([problem]);
  return status.present.includes(name) ? loadPartnerSpec(name) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Loading and normalising
// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonObject;
}

interface MediaTypeObject {
  schema?: JsonObject;
}

interface OperationObject {
  operationId?: string;
  parameters?: JsonObject[];
  requestBody?: JsonObject;
  responses?: Record<string, JsonObject>;
  security?: Array<Record<string, string[]>>;
}

interface CompiledPath {
  specPath: string;
  regex: RegExp;
  paramNames: string[];
  literalLength: number;
  item: JsonObject;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

let specCounter = 0;

export function loadSpec(file: string, options: LoadSpecOptions = {}): LoadedSpec {
  const resolved = path.isAbsolute(file) || existsSync(file) ? path.resolve(file) : path.join(partnerSpecsDir(), file);
  const text = readFileSync(resolved, 'utf8');
  const doc = (/\.ya?ml$/i.test(resolved) ? parseYaml(text) : JSON.parse(text)) as JsonObject;
  if (typeof doc !== 'object' || doc === null || typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.')) {
    throw new Error(`${resolved} is not an OpenAPI 3 document`);
  }
  const specId = `urn:sandbox-spec:${++specCounter}:${path.basename(resolved)}`;
  normaliseSchemas(doc, specId);

  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false, discriminator: false });
  addFormats(ajv);
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('binary', true);
  ajv.addFormat('url', /^[a-z][a-z0-9+.-]*:[^\s]*$/i);
  ajv.addSchema({ $id: specId, components: (doc.components ?? {}) as Json }, specId);

  const { basePath, basePathRequired } = basePathOf(doc, options);
  const compiledPaths = compilePaths(doc);
  const validators = new WeakMap<object, ValidateFunction>();

  const deref = <T>(obj: unknown): T => {
    let current = obj as JsonObject;
    const seen = new Set<string>();
    while (current && typeof current === 'object' && typeof current.$ref === 'string') {
      const ref = current.$ref;
      if (seen.has(ref)) throw new Error(`circular $ref ${ref}`);
      seen.add(ref);
      current = resolvePointer(doc, ref, specId) as JsonObject;
    }
    return current as T;
  };

  const validatorFor = (schema: JsonObject): ValidateFunction => {
    let fn = validators.get(schema);
    if (!fn) {
      fn = ajv.compile(schema as object);
      validators.set(schema, fn);
    }
    return fn;
  };

  const title = String((doc.info as JsonObject | undefined)?.title ?? path.basename(resolved));
  const version = String((doc.info as JsonObject | undefined)?.version ?? '');

  function stripBase(concretePath: string): string[] {
    const clean = concretePath.split('?')[0] ?? '';
    const candidates: string[] = [];
    if (basePath && (clean === basePath || clean.startsWith(`${basePath}/`)))
      candidates.push(clean.slice(basePath.length) || '/');
    if (!basePathRequired || !basePath) candidates.push(clean);
    return candidates;
  }

  function matchOperation(method: string, concretePath: string): MatchedOperation | undefined {
    const m = method.toLowerCase();
    for (const candidate of stripBase(concretePath)) {
      for (const p of compiledPaths) {
        const match = p.regex.exec(candidate);
        if (!match) continue;
        const op = p.item[m] as OperationObject | undefined;
        if (!op) continue;
        const params: Record<string, string> = {};
        p.paramNames.forEach((name, i) => {
          params[name] = safeDecode(match[i + 1] ?? '');
        });
        return {
          method: m.toUpperCase(),
          specPath: p.specPath,
          template: `${basePath}${p.specPath}`,
          ...(op.operationId ? { operationId: op.operationId } : {}),
          params,
        };
      }
    }
    return undefined;
  }

  function pathExists(concretePath: string): boolean {
    return stripBase(concretePath).some((candidate) => compiledPaths.some((p) => p.regex.test(candidate)));
  }

  function operationObject(match: MatchedOperation): { op: OperationObject; item: JsonObject } {
    const item = doc.paths && (doc.paths as JsonObject)[match.specPath];
    const derefItem = deref<JsonObject>(item);
    return { op: derefItem[match.method.toLowerCase()] as OperationObject, item: derefItem };
  }

  function parametersOf(op: OperationObject, item: JsonObject): ParameterObject[] {
    const byKey = new Map<string, ParameterObject>();
    for (const raw of [...((item.parameters as JsonObject[] | undefined) ?? []), ...(op.parameters ?? [])]) {
      const p = deref<ParameterObject>(raw);
      byKey.set(`${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`, p);
    }
    return [...byKey.values()];
  }

  function schemaErrors(
    schema: JsonObject,
    value: unknown,
    location: ViolationLocation,
    name: string | undefined,
  ): Violation[] {
    const fn = validatorFor(schema);
    if (fn(value)) return [];
    return (fn.errors ?? []).slice(0, 25).map((e) => toViolation(e, location, name));
  }

  function validateRequestDetailed(req: SpecRequest): { operation?: MatchedOperation; violations: Violation[] } {
    const operation = matchOperation(req.method, req.path);
    if (!operation) {
      const message = pathExists(req.path)
        ? `method ${req.method.toUpperCase()} not allowed on ${req.path}`
        : `no operation in ${title} matches ${req.method.toUpperCase()} ${req.path}`;
      return { violations: [{ in: 'route', message }] };
    }
    const { op, item } = operationObject(operation);
    const violations: Violation[] = [];
    const headers = lowerCaseHeaders(req.headers);
    const query = queryRecord(
      req.query ?? new URLSearchParams(req.path.includes('?') ? req.path.slice(req.path.indexOf('?') + 1) : ''),
    );

    for (const p of parametersOf(op, item)) {
      if (p.in === 'cookie') continue;
      const raw =
        p.in === 'path' ? operation.params[p.name] : p.in === 'query' ? query[p.name] : headers[p.name.toLowerCase()];
      const present = raw !== undefined && !(Array.isArray(raw) && raw.length === 0);
      if (!present) {
        if (p.required || p.in === 'path')
          violations.push({
            in: p.in,
            name: p.name,
            keyword: 'required',
            message: `${paramLabel(p.in, p.name)} is required`,
          });
        continue;
      }
      if (!p.schema) continue;
      const value = coerce(raw, deref<JsonObject>(p.schema), deref);
      violations.push(...schemaErrors(p.schema, value, p.in, p.name));
    }

    violations.push(...securityViolations(op, headers, query));

    if (op.requestBody) {
      const rb = deref<{ required?: boolean; content?: Record<string, MediaTypeObject> }>(op.requestBody);
      const hasBody = req.body !== undefined && req.body !== '' && req.body !== null;
      if (!hasBody) {
        if (rb.required) violations.push({ in: 'body', keyword: 'required', message: 'request body is required' });
      } else if (rb.content) {
        const contentType = (
          req.contentType ??
          firstHeader(headers['content-type']) ??
          'application/json'
        ).toLowerCase();
        const media = pickMediaType(rb.content, contentType, true);
        if (!media) {
          violations.push({
            in: 'header',
            name: 'content-type',
            message: `content type ${contentType} is not accepted (expected ${Object.keys(rb.content).join(', ')})`,
          });
        } else if (isJsonMedia(media.type) && media.object.schema) {
          const parsed = parseMaybeJson(req.body);
          if (!parsed.ok) violations.push({ in: 'body', keyword: 'json', message: 'request body is not valid JSON' });
          else violations.push(...schemaErrors(media.object.schema, parsed.value, 'body', undefined));
        }
      }
    }
    return { operation, violations };
  }

  function securityViolations(
    op: OperationObject,
    headers: Record<string, string | string[] | undefined>,
    query: Record<string, string | string[] | undefined>,
  ): Violation[] {
    const requirements = op.security ?? (doc.security as OperationObject['security'] | undefined);
    if (!requirements || requirements.length === 0) return [];
    if (requirements.some((r) => Object.keys(r).length === 0)) return [];
    const schemes = ((doc.components as JsonObject | undefined)?.securitySchemes ?? {}) as Record<string, JsonObject>;
    const satisfied = requirements.some((requirement) =>
      Object.keys(requirement).every((name) => {
        const scheme = deref<JsonObject>(schemes[name]);
        if (!scheme) return false;
        const authorization = firstHeader(headers.authorization) ?? '';
        switch (scheme.type) {
          case 'apiKey': {
            const keyName = String(scheme.name ?? '');
            if (scheme.in === 'header') return Boolean(firstHeader(headers[keyName.toLowerCase()]));
            if (scheme.in === 'query') return query[keyName] !== undefined;
            return true;
          }
          case 'http':
            return String(scheme.scheme ?? '').toLowerCase() === 'basic'
              ? /^basic\s+\S/i.test(authorization)
              : /^bearer\s+\S/i.test(authorization);
          case 'oauth2':
          case 'openIdConnect':
            return /^bearer\s+\S/i.test(authorization);
          default:
            return true;
        }
      }),
    );
    if (satisfied) return [];
    const names = requirements.map((r) => Object.keys(r).join('+')).join(' or ');
    return [{ in: 'security', name: 'authorization', keyword: 'security', message: `credentials required (${names})` }];
  }

  function validateResponseDetailed(res: SpecResponse): { operation?: MatchedOperation; violations: Violation[] } {
    const operation = matchOperation(res.method, res.path);
    if (!operation)
      return {
        violations: [
          { in: 'route', message: `no operation in ${title} matches ${res.method.toUpperCase()} ${res.path}` },
        ],
      };
    const { op } = operationObject(operation);
    const responses = op.responses ?? {};
    const statusKey = [String(res.status), `${String(res.status)[0]}XX`, `${String(res.status)[0]}xx`, 'default'].find(
      (k) => responses[k] !== undefined,
    );
    if (!statusKey)
      return {
        operation,
        violations: [
          {
            in: 'status',
            message: `status ${res.status} is not documented for ${operation.method} ${operation.specPath} (documented: ${Object.keys(responses).join(', ')})`,
          },
        ],
      };
    const response = deref<{ headers?: Record<string, JsonObject>; content?: Record<string, MediaTypeObject> }>(
      responses[statusKey],
    );
    const violations: Violation[] = [];

    if (res.headers) {
      const headers = lowerCaseHeaders(res.headers);
      for (const [name, rawHeader] of Object.entries(response.headers ?? {})) {
        const h = deref<{ required?: boolean; schema?: JsonObject }>(rawHeader);
        const value = headers[name.toLowerCase()];
        if (value === undefined) {
          if (h.required)
            violations.push({
              in: 'header',
              name,
              keyword: 'required',
              message: `header ${name} is required in the response`,
            });
        } else if (h.schema) {
          violations.push(...schemaErrors(h.schema, coerce(value, deref<JsonObject>(h.schema), deref), 'header', name));
        }
      }
    }

    const hasBody = res.body !== undefined && res.body !== null && res.body !== '';
    const content = response.content && Object.keys(response.content).length > 0 ? response.content : undefined;
    if (!content) {
      if (hasBody) violations.push({ in: 'body', message: `no response body is documented for status ${res.status}` });
      return { operation, violations };
    }
    const headerType = res.headers ? firstHeader(lowerCaseHeaders(res.headers)['content-type']) : undefined;
    const contentType = (res.contentType ?? headerType ?? 'application/json').toLowerCase();
    const media = pickMediaType(content, contentType, false);
    if (!media) {
      violations.push({
        in: 'header',
        name: 'content-type',
        message: `content type ${contentType} is not documented for status ${res.status}`,
      });
      return { operation, violations };
    }
    if (!isJsonMedia(media.type) || !media.object.schema) return { operation, violations };
    if (!hasBody) {
      violations.push({
        in: 'body',
        keyword: 'required',
        message: `a ${media.type} body is documented for status ${res.status} but none was sent`,
      });
      return { operation, violations };
    }
    const parsed = parseMaybeJson(res.body);
    if (!parsed.ok) violations.push({ in: 'body', keyword: 'json', message: 'response body is not valid JSON' });
    else violations.push(...schemaErrors(media.object.schema, parsed.value, 'body', undefined));
    return { operation, violations };
  }

  const componentValidators = new Map<string, ValidateFunction>();

  return {
    file: resolved,
    title,
    version,
    basePath,
    basePathRequired,
    matchOperation,
    validateRequestDetailed,
    validateRequest: (req) => validateRequestDetailed(req).violations.map(formatViolation),
    validateResponseDetailed,
    validateResponse: (res) => validateResponseDetailed(res).violations.map(formatViolation),
    validateSchema(name, value) {
      let fn = componentValidators.get(name);
      if (!fn) {
        fn = ajv.compile({ $ref: `${specId}#/components/schemas/${name}` });
        componentValidators.set(name, fn);
      }
      if (fn(value)) return [];
      return (fn.errors ?? []).map((e) => formatViolation(toViolation(e, 'body', undefined)));
    },
    operations() {
      const out: Array<Omit<MatchedOperation, 'params'>> = [];
      for (const p of compiledPaths) {
        for (const m of METHODS) {
          const op = p.item[m] as OperationObject | undefined;
          if (op)
            out.push({
              method: m.toUpperCase(),
              specPath: p.specPath,
              template: `${basePath}${p.specPath}`,
              ...(op.operationId ? { operationId: op.operationId } : {}),
            });
        }
      }
      return out;
    },
  };
}

export function formatViolation(v: Violation): string {
  if (v.in === 'route' || v.in === 'status' || v.in === 'security') return v.message;
  if (v.in === 'body') return `body${v.name && v.name !== '/' ? ` ${v.name}` : ''}: ${v.message}`;
  return v.message.startsWith(`${v.in} `) ? v.message : `${paramLabel(v.in, v.name ?? '')}: ${v.message}`;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function basePathOf(doc: JsonObject, options: LoadSpecOptions): { basePath: string; basePathRequired: boolean } {
  if (options.basePath !== undefined) return { basePath: trimSlash(options.basePath), basePathRequired: true };
  const server = Array.isArray(doc.servers) ? (doc.servers[0] as JsonObject | undefined) : undefined;
  if (!server || typeof server.url !== 'string') return { basePath: '', basePathRequired: false };
  let url = server.url;
  const variables = (server.variables ?? {}) as Record<string, JsonObject>;
  url = url.replace(/\{([^}]+)\}/g, (_, name: string) => String(variables[name]?.default ?? name));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    return { basePath: trimSlash(new URL(url).pathname), basePathRequired: false };
  }
  return { basePath: trimSlash(url), basePathRequired: true };
}

function trimSlash(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t === '' || t.startsWith('/') ? t : `/${t}`;
}

function compilePaths(doc: JsonObject): CompiledPath[] {
  const out: CompiledPath[] = [];
  for (const [specPath, item] of Object.entries((doc.paths ?? {}) as Record<string, JsonObject>)) {
    const paramNames: string[] = [];
    const pattern = specPath
      .split(/(\{[^}]+\})/)
      .map((part) => {
        const m = /^\{([^}]+)\}$/.exec(part);
        if (m) {
          paramNames.push(m[1]!);
          return '([^/]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('');
    out.push({
      specPath,
      regex: new RegExp(`^${pattern}/?$`),
      paramNames,
      literalLength: specPath.replace(/\{[^}]+\}/g, '').length,
      item,
    });
  }
  // Literal segments win over templated ones (/checks/download vs /checks/{id}).
  return out.sort((a, b) => a.paramNames.length - b.paramNames.length || b.literalLength - a.literalLength);
}

function resolvePointer(doc: JsonObject, ref: string, specId: string): unknown {
  const hash = ref.indexOf('#');
  const base = hash >= 0 ? ref.slice(0, hash) : ref;
  if (base !== '' && base !== specId) throw new Error(`external $ref not supported: ${ref}`);
  const pointer = hash >= 0 ? ref.slice(hash + 1) : '';
  let current: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object') throw new Error(`unresolvable $ref ${ref}`);
    current = (current as Record<string, unknown>)[key];
  }
  if (current === undefined) throw new Error(`unresolvable $ref ${ref}`);
  return current;
}

/**
 * In-place OpenAPI 3.0 -> JSON Schema draft-07 adjustments over the whole document (only schema
 * objects carry these keywords): absolute $refs, nullable, boolean exclusive bounds,
 * discriminator mappings.
 */
function normaliseSchemas(doc: JsonObject, specId: string): void {
  // Keys whose value is a map from arbitrary names to nodes: a child named "example" or
  // "nullable" there is a name, not a keyword.
  const MAP_KEYS = new Set([
    'properties',
    'patternProperties',
    'definitions',
    'schemas',
    'parameters',
    'responses',
    'headers',
    'content',
    'paths',
    'requestBodies',
    'securitySchemes',
    'variables',
    'links',
    'callbacks',
    'encoding',
  ]);
  const visit = (node: Json, isMap: boolean): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child, false);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (!isMap) normaliseNode(node, specId);
    for (const [key, child] of Object.entries(node)) {
      if (!isMap && (key === 'example' || key === 'examples' || key === 'enum' || key === 'const' || key === 'default'))
        continue;
      visit(child, !isMap && MAP_KEYS.has(key) && !Array.isArray(child));
    }
  };
  visit(doc, false);
}

function normaliseNode(node: JsonObject, specId: string): void {
  if (typeof node.$ref === 'string' && node.$ref.startsWith('#')) node.$ref = `${specId}${node.$ref}`;
  if (typeof node.exclusiveMinimum === 'boolean') {
    if (node.exclusiveMinimum && typeof node.minimum === 'number') {
      node.exclusiveMinimum = node.minimum;
      delete node.minimum;
    } else delete node.exclusiveMinimum;
  }
  if (typeof node.exclusiveMaximum === 'boolean') {
    if (node.exclusiveMaximum && typeof node.maximum === 'number') {
      node.exclusiveMaximum = node.maximum;
      delete node.maximum;
    } else delete node.exclusiveMaximum;
  }
  if (node.nullable === true) {
    delete node.nullable;
    if (typeof node.type === 'string') {
      node.type = [node.type, 'null'];
      if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum = [...node.enum, null];
    } else if (node.type === undefined) {
      const copy: JsonObject = { ...node };
      for (const key of Object.keys(node)) if (key !== 'description') delete node[key];
      node.anyOf = [copy, { type: 'null' }];
    }
  } else if (node.nullable === false) {
    delete node.nullable;
  }
  const discriminator = node.discriminator;
  if (
    discriminator &&
    typeof discriminator === 'object' &&
    !Array.isArray(discriminator) &&
    typeof discriminator.propertyName === 'string' &&
    discriminator.mapping &&
    typeof discriminator.mapping === 'object' &&
    Array.isArray(node.oneOf)
  ) {
    // oneOf over schemas that all allow extra properties cannot pick a branch; the mapping can.
    const prop = discriminator.propertyName;
    const mapping = discriminator.mapping as Record<string, string>;
    const values = Object.keys(mapping);
    delete node.oneOf;
    delete node.discriminator;
    node.type = 'object';
    node.required = [...new Set([...(Array.isArray(node.required) ? (node.required as string[]) : []), prop])];
    node.properties = { ...((node.properties as JsonObject | undefined) ?? {}), [prop]: { enum: values } };
    node.allOf = [
      ...((node.allOf as Json[] | undefined) ?? []),
      ...values.map((v) => ({
        if: { properties: { [prop]: { const: v } }, required: [prop] },
        then: { $ref: mapping[v]!.startsWith('#') ? `${specId}${mapping[v]}` : mapping[v]! },
      })),
    ];
  } else if (discriminator !== undefined && typeof discriminator === 'object') {
    delete node.discriminator;
  }
}

function toViolation(e: ErrorObject, location: ViolationLocation, name: string | undefined): Violation {
  const params = e.params as Record<string, unknown>;
  let pointer = e.instancePath || '';
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
    pointer = `${pointer}/${params.missingProperty}`;
    message = `is required`;
  } else if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    pointer = `${pointer}/${params.additionalProperty}`;
    message = 'is not allowed (additionalProperties: false)';
  } else if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    message = `must be one of ${JSON.stringify(params.allowedValues).slice(0, 300)}`;
  }
  if (location === 'body') return { in: 'body', name: pointer || '/', keyword: e.keyword, message };
  return {
    in: location,
    ...(name !== undefined ? { name } : {}),
    keyword: e.keyword,
    message: `${paramLabel(location, `${name ?? ''}${pointer}`)}: ${message}`,
  };
}

function paramLabel(location: string, name: string): string {
  return location === 'header' ? `header ${name}` : `${location} parameter ${name}`;
}

function lowerCaseHeaders(headers: SpecRequest['headers']): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  if (!headers) return out;
  if (typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function') {
    (headers as Headers).forEach((value, key) => {
      out[key.toLowerCase()] = value;
    });
    return out;
  }
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>))
    out[key.toLowerCase()] = value;
  return out;
}

function queryRecord(query: NonNullable<SpecRequest['query']>): Record<string, string | string[] | undefined> {
  if (query instanceof URLSearchParams) {
    const out: Record<string, string | string[]> = {};
    for (const key of new Set(query.keys())) {
      const all = query.getAll(key);
      out[key] = all.length === 1 ? all[0]! : all;
    }
    return out;
  }
  return query;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Turns the string form of a parameter into the type its schema asks for, when unambiguous. */
function coerce(raw: string | string[], schema: JsonObject, deref: <T>(o: unknown) => T): unknown {
  const resolved = resolveComposite(schema, deref);
  const type = Array.isArray(resolved.type) ? resolved.type.find((t) => t !== 'null') : resolved.type;
  if (type === 'array') {
    const items = resolved.items ? deref<JsonObject>(resolved.items) : {};
    const list = Array.isArray(raw) ? raw : raw.split(',');
    return list.map((v) => coerce(v, items, deref));
  }
  const value = Array.isArray(raw) ? (raw[0] ?? '') : raw;
  if (type === 'integer' && /^-?\d+$/.test(value)) return Number(value);
  if (type === 'number' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

function resolveComposite(schema: JsonObject, deref: <T>(o: unknown) => T): JsonObject {
  const s = deref<JsonObject>(schema);
  if (s.type === undefined && Array.isArray(s.allOf)) {
    for (const part of s.allOf) {
      const r = resolveComposite(part as JsonObject, deref);
      if (r.type !== undefined) return r;
    }
  }
  return s;
}

function isJsonMedia(type: string): boolean {
  return /json/i.test(type) && !/jose|jwe|jwt/i.test(type);
}

function pickMediaType(
  content: Record<string, MediaTypeObject>,
  contentType: string,
  strict: boolean,
): { type: string; object: MediaTypeObject } | undefined {
  const wanted = contentType.split(';')[0]!.trim();
  const entries = Object.entries(content);
  const exact =
    entries.find(([type]) => type.toLowerCase() === contentType) ??
    entries.find(([type]) => type.toLowerCase().split(';')[0]!.trim() === wanted);
  if (exact) return { type: exact[0], object: exact[1] };
  const wildcard = entries.find(
    ([type]) => type === '*/*' || (type.endsWith('/*') && wanted.startsWith(type.slice(0, -1))),
  );
  if (wildcard) return { type: wildcard[0], object: wildcard[1] };
  if (strict) return undefined;
  // Responses: a sender that labels JSON loosely (application/problem+json, text/json) is still judged against the JSON
  // schema.
  if (/json/.test(wanted)) {
    const json = entries.find(([type]) => isJsonMedia(type));
    if (json) return { type: json[0], object: json[1] };
  }
  return undefined;
}

function parseMaybeJson(body: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof body === 'string') {
    try {
      return { ok: true, value: JSON.parse(body) };
    } catch {
      return { ok: false };
    }
  }
  if (body instanceof Uint8Array) return parseMaybeJson(Buffer.from(body).toString('utf8'));
  return { ok: true, value: body };
}
