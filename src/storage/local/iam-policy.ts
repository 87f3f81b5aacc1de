/**
 * The IAM policy language subset the embedded store understands: the session policies a caller of STS
 * `AssumeRole` attaches to the temporary credentials it asks for (sts.ts), evaluated on every S3 request
 * made with those credentials (s3-auth.ts). It follows AWS IAM's rules (as MinIO does, whose stand-in
 * the embedded store is): an explicit `Deny` wins, then any matching `Allow`, and anything else is
 * denied.
 *
 * Written here because no maintained npm package evaluates IAM policies offline, and the subset is small:
 * `Effect`, `Action`, `Resource` and `Condition` with `StringLike` / `StringEquals` on `s3:prefix`. Every
 * other element is refused when the policy is parsed (a `PolicyError` naming it), never ignored: a policy
 * that means more than the store can evaluate must not silently grant or deny something else. Glob
 * libraries (minimatch, picomatch) do not fit either: IAM's `*` also crosses `/` and there are no escapes
 * or character classes.
 */

/** The IAM actions the store's S3 operations map to (s3-server.ts); a policy may name only these. */
export const S3_ACTIONS = [
  's3:GetObject',
  's3:PutObject',
  's3:DeleteObject',
  's3:ListBucket',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
  's3:ListBucketMultipartUploads',
  's3:GetBucketLocation',
  's3:ListAllMyBuckets',
] as const;

export type S3Action = (typeof S3_ACTIONS)[number];

/** The only policy version IAM (and MinIO) accept for policies with conditions and variables. */
export const POLICY_VERSION = '2012-10-17';

/** The only condition key the store evaluates (set by ListObjects from its `prefix` parameter). */
const PREFIX_KEY = 's3:prefix';
const OPERATORS = ['StringLike', 'StringEquals'] as const;
type Operator = (typeof OPERATORS)[number];

/** One request as the evaluator sees it. */
export interface IamRequest {
  action: S3Action;
  /** `arn:aws:s3:::<bucket>` or `arn:aws:s3:::<bucket>/<key>` (or `arn:aws:s3:::*` for ListAllMyBuckets). */
  resource: string;
  /** Value of `s3:prefix`; undefined = the key is absent from the request (every operation but ListObjects). */
  prefix?: string | undefined;
}

interface Condition {
  operator: Operator;
  /** Any of these values satisfies the condition (IAM ORs the values of one key). */
  values: string[];
}

interface Statement {
  effect: 'Allow' | 'Deny';
  /** Lower-cased action patterns (IAM action names are case-insensitive). */
  actions: string[];
  /** Resource patterns, case-sensitive as ARNs are. */
  resources: string[];
  /** All must hold (IAM ANDs operators and keys). */
  conditions: Condition[];
}

export interface IamPolicy {
  statements: Statement[];
}

/** Why a policy was refused; `element` names the part of the document, e.g. `Statement[1].NotAction`. */
export class PolicyError extends Error {
  constructor(
    readonly element: string,
    reason: string,
  ) {
    super(`${element}: ${reason}`);
    this.name = 'PolicyError';
  }
}

/**
 * Parses a policy document as sent (JSON text): the validated policy, and the document minified (what
 * size limits apply to and what credentials.ts embeds in the session token). PolicyError when refused.
 */
export function parsePolicy(text: string): { policy: IamPolicy; document: unknown; minified: string } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new PolicyError('Policy', `is not valid JSON (${(error as Error).message}).`);
  }
  return { policy: validatePolicy(document), document, minified: JSON.stringify(document) };
}

/** Validates an already parsed policy document (the one a session token carries). PolicyError when refused. */
export function validatePolicy(document: unknown): IamPolicy {
  const root = asObject(document, 'Policy', 'must be a JSON object.');
  for (const key of Object.keys(root)) {
    if (key !== 'Version' && key !== 'Id' && key !== 'Statement') throw unsupported(key);
  }
  if (root.Version === undefined) {
    throw new PolicyError('Version', `is missing; expecting "${POLICY_VERSION}".`);
  }
  if (root.Version !== POLICY_VERSION) {
    throw new PolicyError('Version', `must be "${POLICY_VERSION}".`);
  }
  if (root.Id !== undefined && typeof root.Id !== 'string') throw new PolicyError('Id', 'must be a string.');
  if (root.Statement === undefined) throw new PolicyError('Statement', 'is missing.');
  const list = Array.isArray(root.Statement) ? (root.Statement as unknown[]) : [root.Statement];
  return { statements: list.map((s, i) => validateStatement(s, `Statement[${i}]`)) };
}

function validateStatement(value: unknown, at: string): Statement {
  const st = asObject(value, at, 'must be a JSON object.');
  for (const key of Object.keys(st)) {
    if (!['Sid', 'Effect', 'Action', 'Resource', 'Condition'].includes(key))
      throw unsupported(`${at}.${key}`);
  }
  if (st.Sid !== undefined && typeof st.Sid !== 'string')
    throw new PolicyError(`${at}.Sid`, 'must be a string.');
  if (st.Effect !== 'Allow' && st.Effect !== 'Deny') {
    throw new PolicyError(`${at}.Effect`, 'must be "Allow" or "Deny".');
  }
  const actions = stringList(st.Action, `${at}.Action`).map((pattern, i) => {
    const where = `${at}.Action[${i}]`;
    if (pattern !== '*' && !/^s3:/i.test(pattern)) {
      throw new PolicyError(where, `"${pattern}" is not an S3 action; the embedded store serves only S3.`);
    }
    const lower = pattern.toLowerCase();
    if (!S3_ACTIONS.some((action) => wildcardMatch(lower, action.toLowerCase()))) {
      throw new PolicyError(
        where,
        `"${pattern}" names no action the embedded store serves (${S3_ACTIONS.join(', ')}).`,
      );
    }
    return lower;
  });
  const resources = stringList(st.Resource, `${at}.Resource`).map((pattern, i) => {
    const where = `${at}.Resource[${i}]`;
    if (pattern !== '*' && !pattern.startsWith('arn:aws:s3:::')) {
      throw new PolicyError(where, `"${pattern}" is not an S3 resource (arn:aws:s3:::<bucket>[/<key>]).`);
    }
    noVariables(pattern, where);
    return pattern;
  });
  const conditions = st.Condition === undefined ? [] : validateConditions(st.Condition, `${at}.Condition`);
  return { effect: st.Effect, actions, resources, conditions };
}

function validateConditions(value: unknown, at: string): Condition[] {
  const block = asObject(value, at, 'must be a JSON object of operators.');
  const conditions: Condition[] = [];
  for (const [operator, keys] of Object.entries(block)) {
    if (!(OPERATORS as readonly string[]).includes(operator)) {
      throw new PolicyError(
        `${at}.${operator}`,
        `the condition operator is not supported by the embedded store (only ${OPERATORS.join(', ')}).`,
      );
    }
    const entries = Object.entries(
      asObject(keys, `${at}.${operator}`, 'must be a JSON object of condition keys.'),
    );
    if (entries.length === 0) throw new PolicyError(`${at}.${operator}`, 'names no condition key.');
    for (const [key, values] of entries) {
      const where = `${at}.${operator}.${key}`;
      // Condition key names are case-insensitive in IAM.
      if (key.toLowerCase() !== PREFIX_KEY) {
        throw new PolicyError(
          where,
          `the condition key is not supported by the embedded store (only ${PREFIX_KEY}).`,
        );
      }
      const list = stringList(values, where);
      list.forEach((v) => noVariables(v, where));
      conditions.push({ operator: operator as Operator, values: list });
    }
  }
  return conditions;
}

/** Whether `policy` allows `request`: no matching Deny, and at least one matching Allow. */
export function isAllowed(policy: IamPolicy, request: IamRequest): boolean {
  let allowed = false;
  for (const statement of policy.statements) {
    if (!applies(statement, request)) continue;
    if (statement.effect === 'Deny') return false;
    allowed = true;
  }
  return allowed;
}

function applies(statement: Statement, request: IamRequest): boolean {
  const action = request.action.toLowerCase();
  return (
    statement.actions.some((pattern) => wildcardMatch(pattern, action)) &&
    statement.resources.some((pattern) => wildcardMatch(pattern, request.resource)) &&
    statement.conditions.every((condition) => holds(condition, request.prefix))
  );
}

/** A condition on a key the request does not carry does not hold (IAM, without `…IfExists`). */
function holds(condition: Condition, value: string | undefined): boolean {
  if (value === undefined) return false;
  return condition.operator === 'StringEquals'
    ? condition.values.includes(value)
    : condition.values.some((pattern) => wildcardMatch(pattern, value));
}

/**
 * IAM wildcard match: `*` = any run of characters (`/` included), `?` = exactly one, everything else
 * literal and case-sensitive. Greedy with one backtrack point (the last `*`), so linear-time in practice
 * and never exponential, unlike a regular expression built from the pattern.
 */
export function wildcardMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === value[v])) {
      p += 1;
      v += 1;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p;
      resume = v;
      p += 1;
    } else if (star !== -1) {
      p = star + 1;
      resume += 1;
      v = resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

function asObject(value: unknown, at: string, reason: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyError(at, reason);
  return value as Record<string, unknown>;
}

/** A string or a non-empty list of strings, as IAM allows for Action, Resource and condition values. */
function stringList(value: unknown, at: string): string[] {
  if (value === undefined) throw new PolicyError(at, 'is missing.');
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) throw new PolicyError(at, 'must not be empty.');
  return list.map((item, i) => {
    if (typeof item !== 'string' || item === '') {
      throw new PolicyError(Array.isArray(value) ? `${at}[${i}]` : at, 'must be a non-empty string.');
    }
    return item;
  });
}

/** Policy variables (`${aws:username}`, `${*}`…) would need request context the store does not have. */
function noVariables(value: string, at: string): void {
  if (value.includes('${')) {
    throw new PolicyError(at, 'policy variables (${…}) are not supported by the embedded store.');
  }
}

function unsupported(element: string): PolicyError {
  return new PolicyError(element, 'this element is not supported by the embedded store.');
}
