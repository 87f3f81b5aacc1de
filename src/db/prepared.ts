/**
 * Queries compiled once and run many times with new values, for the hottest request paths.
 *
 * Kysely builds, transforms (CamelCasePlugin) and compiles every query on every call: about 10 µs of
 * JavaScript per query on these machines, more than SQLite itself spends on an indexed lookup
 * (bench/pilot-api). A prepared query is built once with placeholder values, compiled, and later run
 * through `db.executeQuery` with the real values swapped into the compiled parameter list, so result
 * transformation (snake_case → camelCase) still applies. Kysely has no API for this (its compiled
 * queries carry literal parameters), hence this small helper.
 */
import type { Compilable, Kysely } from 'kysely';
import type { DB } from './schema.ts';

const PLACEHOLDER = Symbol('prepared query placeholder');

interface Placeholder {
  readonly [PLACEHOLDER]: string;
}

function isPlaceholder(value: unknown): value is Placeholder {
  return typeof value === 'object' && value !== null && PLACEHOLDER in value;
}

/**
 * Compiles `build(placeholders)` once; the returned function runs it with `args`. `names` lists the
 * arguments: each must reach the compiled query as a bound parameter (it throws at preparation
 * otherwise, e.g. when a value would be inlined into the SQL text).
 */
export function prepareQuery<Args extends Record<string, unknown>, Row>(
  db: Kysely<DB>,
  names: readonly (keyof Args & string)[],
  build: (args: Args) => Compilable<Row>,
): (args: Args) => Promise<Row[]> {
  const placeholders = Object.fromEntries(
    names.map((name) => [name, { [PLACEHOLDER]: name } satisfies Placeholder]),
  ) as unknown as Args;
  const compiled = build(placeholders).compile();
  nameStatement(compiled.sql);
  const slots = compiled.parameters.map((p) => (isPlaceholder(p) ? p[PLACEHOLDER] : undefined));
  const missing = names.filter((name) => !slots.includes(name));
  if (missing.length > 0) throw new Error(`prepared query: ${missing.join(', ')} not bound as parameters`);
  return async (args) => {
    const parameters = compiled.parameters.map((constant, i) => {
      const name = slots[i];
      return name === undefined ? constant : args[name];
    });
    const result = await db.executeQuery<Row>({ ...compiled, parameters });
    return result.rows;
  };
}

/** SQL text of each prepared query → the name PostgreSQL keeps its parsed statement under. */
const statementNames = new Map<string, string>();

function nameStatement(text: string): void {
  if (!statementNames.has(text)) statementNames.set(text, `skyvault_${statementNames.size + 1}`);
}

/**
 * The name under which PostgreSQL connections keep this statement parsed (a server-side prepared
 * statement), for the texts of the prepared queries above; undefined for every other statement. The
 * texts are a fixed set (each prepareQuery call site compiles one), so each connection keeps at most
 * that many. Sent unnamed, a statement is parsed and planned by PostgreSQL at every execution: about
 * 90 µs of its CPU for a report's lookup on these machines, a quarter of what the lookup costs it.
 */
export function statementNameOf(text: string): string | undefined {
  return statementNames.get(text);
}
