/**
 * Aliyun RAM policies, as a caller of Aliyun STS `AssumeRole` (aliyun-sts.ts) attaches them to the
 * temporary credentials it asks for, translated once, at AssumeRole, into the IAM policy the store
 * evaluates (iam-policy.ts). The session token then carries the translation, so the same credentials are
 * held to the same policy whether they sign with OSS V4 or AWS SigV4. This is the one place RAM is read.
 *
 * RAM's grammar (AlibabaCloudDocs/ram, "Policy Management/Policy language/Policy elements.md"):
 * `Version` "1"; statements of `Effect` (Allow, Deny: an explicit Deny wins, as in IAM), `Action`
 * (`oss:<operation>`, wildcards allowed), `Resource` (`acs:oss:<region>:<account>:<bucket>[/<object>]`)
 * and `Condition`. The subset understood, mapped as OSS authorizes the same operations:
 *
 * | RAM                                         | IAM                                   |
 * | ------------------------------------------- | ------------------------------------- |
 * | oss:GetObject (GetObject, HeadObject)       | s3:GetObject                          |
 * | oss:PutObject (put, multipart initiate, parts, complete) | s3:PutObject             |
 * | oss:DeleteObject                            | s3:DeleteObject                       |
 * | oss:AbortMultipartUpload                    | s3:AbortMultipartUpload               |
 * | oss:ListParts                               | s3:ListMultipartUploadParts           |
 * | oss:ListObjects                             | s3:ListBucket                         |
 * | oss:ListMultipartUploads                    | s3:ListBucketMultipartUploads         |
 * | oss:GetBucketLocation                       | s3:GetBucketLocation                  |
 * | oss:ListBuckets                             | s3:ListAllMyBuckets                   |
 * | `*`, `oss:*`, `oss:List*`…                  | the actions above they match          |
 * | acs:oss:<region>:<account>:<bucket>[/<key>] | arn:aws:s3:::<bucket>[/<key>]         |
 * | StringLike / StringEquals on oss:Prefix     | the same operator on s3:prefix        |
 *
 * A resource of another region than the store's can never match here and is dropped (a statement left
 * without resources with it); the account is not checked, the store having a single one. As in
 * iam-policy.ts, anything else (another service, an OSS action the store does not serve, NotAction,
 * another condition key or operator, policy variables) is refused with a PolicyError naming the element,
 * which AssumeRole answers as Aliyun's `InvalidParameter.PolicyGrammar`: a policy must not silently mean
 * less, or more, than it says. Hand-written for the same reason as iam-policy.ts: no package evaluates RAM.
 */
import {
  type IamPolicy,
  PolicyError,
  POLICY_VERSION,
  type S3Action,
  validatePolicy,
  wildcardMatch,
} from './iam-policy.ts';

/** The only version of RAM's policy language. */
export const RAM_POLICY_VERSION = '1';

/** The OSS actions the store serves, and the S3 action each is evaluated as. */
export const OSS_ACTIONS: Readonly<Record<string, S3Action>> = {
  'oss:GetObject': 's3:GetObject',
  'oss:PutObject': 's3:PutObject',
  'oss:DeleteObject': 's3:DeleteObject',
  'oss:AbortMultipartUpload': 's3:AbortMultipartUpload',
  'oss:ListParts': 's3:ListMultipartUploadParts',
  'oss:ListObjects': 's3:ListBucket',
  'oss:ListMultipartUploads': 's3:ListBucketMultipartUploads',
  'oss:GetBucketLocation': 's3:GetBucketLocation',
  'oss:ListBuckets': 's3:ListAllMyBuckets',
};

const OPERATORS = ['StringLike', 'StringEquals'];
const PREFIX_KEY = 'oss:prefix';

/**
 * Parses a RAM policy as sent to AssumeRole (JSON text) for a store in `region`: the IAM policy it is
 * evaluated as, that policy's document (what the session token carries) and the RAM text minified.
 * PolicyError when refused.
 */
export function parseRamPolicy(
  text: string,
  region: string,
): { policy: IamPolicy; document: unknown; minified: string } {
  let ram: unknown;
  try {
    ram = JSON.parse(text);
  } catch (error) {
    throw new PolicyError('Policy', `is not valid JSON (${(error as Error).message}).`);
  }
  const document = ramToIam(ram, region);
  return { policy: validatePolicy(document), document, minified: JSON.stringify(ram) };
}

/** The IAM policy document equivalent to the RAM policy `ram` in a store of `region`. PolicyError when refused. */
export function ramToIam(ram: unknown, region: string): unknown {
  const root = asObject(ram, 'Policy', 'must be a JSON object.');
  for (const key of Object.keys(root)) {
    if (key !== 'Version' && key !== 'Statement') throw unsupported(key);
  }
  if (root.Version !== RAM_POLICY_VERSION) {
    throw new PolicyError('Version', `must be "${RAM_POLICY_VERSION}" (RAM's policy language).`);
  }
  if (root.Statement === undefined) throw new PolicyError('Statement', 'is missing.');
  const list = Array.isArray(root.Statement) ? (root.Statement as unknown[]) : [root.Statement];
  const statements = list
    .map((statement, i) => translateStatement(statement, `Statement[${i}]`, region))
    .filter((statement) => statement !== undefined);
  return { Version: POLICY_VERSION, Statement: statements };
}

function translateStatement(value: unknown, at: string, region: string): object | undefined {
  const st = asObject(value, at, 'must be a JSON object.');
  for (const key of Object.keys(st)) {
    if (!['Effect', 'Action', 'Resource', 'Condition'].includes(key)) throw unsupported(`${at}.${key}`);
  }
  if (st.Effect !== 'Allow' && st.Effect !== 'Deny') {
    throw new PolicyError(`${at}.Effect`, 'must be "Allow" or "Deny".');
  }
  const actions = new Set<string>();
  stringList(st.Action, `${at}.Action`).forEach((pattern, i) => {
    for (const action of s3ActionsOf(pattern, `${at}.Action[${i}]`)) actions.add(action);
  });
  const resources = stringList(st.Resource, `${at}.Resource`)
    .map((pattern, i) => s3Resource(pattern, `${at}.Resource[${i}]`, region))
    .filter((resource) => resource !== undefined);
  const condition =
    st.Condition === undefined ? undefined : translateCondition(st.Condition, `${at}.Condition`);
  // Every resource names another region: the statement can apply to nothing this store holds.
  if (resources.length === 0) return undefined;
  return {
    Effect: st.Effect,
    Action: [...actions],
    Resource: resources,
    ...(condition ? { Condition: condition } : {}),
  };
}

/** The S3 actions an `Action` pattern names: `*` for every action, else each OSS action it matches. */
function s3ActionsOf(pattern: string, at: string): string[] {
  if (pattern === '*') return ['*'];
  if (!/^oss:/i.test(pattern)) {
    throw new PolicyError(at, `"${pattern}" is not an OSS action; the embedded store serves only OSS.`);
  }
  const lower = pattern.toLowerCase();
  const matched = Object.entries(OSS_ACTIONS)
    .filter(([oss]) => wildcardMatch(lower, oss.toLowerCase()))
    .map(([, s3]) => s3);
  if (matched.length === 0) {
    throw new PolicyError(
      at,
      `"${pattern}" names no action the embedded store serves (${Object.keys(OSS_ACTIONS).join(', ')}).`,
    );
  }
  return matched;
}

/** `acs:oss:<region>:<account>:<relative id>` as `arn:aws:s3:::<relative id>`; undefined for another region. */
function s3Resource(pattern: string, at: string, region: string): string | undefined {
  if (pattern === '*') return '*';
  const parts = pattern.split(':');
  const relative = parts.slice(4).join(':');
  if (parts.length < 5 || parts[0] !== 'acs' || parts[1] !== 'oss' || relative === '') {
    throw new PolicyError(
      at,
      `"${pattern}" is not an OSS resource (acs:oss:<region>:<account>:<bucket>[/<object>]).`,
    );
  }
  if (pattern.includes('${')) {
    throw new PolicyError(at, 'policy variables (${…}) are not supported by the embedded store.');
  }
  const regionPattern = parts[2]!;
  if (regionPattern !== '' && !wildcardMatch(regionPattern, region)) return undefined;
  return `arn:aws:s3:::${relative}`;
}

function translateCondition(value: unknown, at: string): Record<string, Record<string, string[]>> {
  const block = asObject(value, at, 'must be a JSON object of operators.');
  const out: Record<string, Record<string, string[]>> = {};
  for (const [operator, keys] of Object.entries(block)) {
    if (!OPERATORS.includes(operator)) {
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
      // Condition key names are case-insensitive, in RAM as in IAM.
      if (key.toLowerCase() !== PREFIX_KEY) {
        throw new PolicyError(
          where,
          'the condition key is not supported by the embedded store (only oss:Prefix).',
        );
      }
      const list = stringList(values, where);
      if (list.some((v) => v.includes('${'))) {
        throw new PolicyError(where, 'policy variables (${…}) are not supported by the embedded store.');
      }
      // Two spellings of the key under one operator must both hold; one IAM key cannot say that.
      if (out[operator]) throw new PolicyError(where, `${operator} names oss:Prefix twice.`);
      out[operator] = { 's3:prefix': list };
    }
  }
  return out;
}

function asObject(value: unknown, at: string, reason: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyError(at, reason);
  return value as Record<string, unknown>;
}

/** A string or a non-empty list of strings, as RAM allows for Action, Resource and condition values. */
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

function unsupported(element: string): PolicyError {
  return new PolicyError(element, 'this element is not supported by the embedded store.');
}
