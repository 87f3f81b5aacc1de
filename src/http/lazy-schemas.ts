/**
 * Fastify's own schema compilers (ajv for request validation, fast-json-stringify for responses),
 * compiling each route's schema when the route is first used instead of at start. At start they compiled
 * every route's schemas, a third of the time to ready (docs/performance.md: about 0.4 s of ajv and
 * fast-json-stringify in a start-up profile), while most instances only ever serve a few of the routes.
 * The compilers and their options are Fastify's defaults, so what is accepted and how answers are
 * written are unchanged; a schema that does not compile fails its route's first request (500) instead
 * of the start, and every route is exercised by the tests.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerCompiler from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type BuildValidator = NonNullable<CompilersFactory['buildValidator']>;
type BuildSerializer = NonNullable<CompilersFactory['buildSerializer']>;

/** A validator function as Fastify calls it: it reads `errors` after a call that returned false. */
type Validator = ((...args: unknown[]) => unknown) & { errors?: unknown };

const buildDefaultValidator = AjvCompiler() as unknown as BuildValidator;
const buildDefaultSerializer = SerializerCompiler() as unknown as BuildSerializer;

/** The `schemaController` option that makes Fastify compile schemas at their route's first use. */
export const lazySchemaController: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildValidator: ((externalSchemas, options) => {
      const compile = buildDefaultValidator(externalSchemas, options);
      return (route) => {
        let compiled: Validator | undefined;
        const validate: Validator = function (this: unknown, ...args: unknown[]) {
          compiled ??= compile(route) as Validator;
          const result = compiled.apply(this, args);
          validate.errors = compiled.errors;
          return result;
        };
        return validate;
      };
    }) as BuildValidator,
    buildSerializer: ((externalSchemas, options) => {
      const compile = buildDefaultSerializer(externalSchemas, options);
      return (route) => {
        let compiled: ((data: unknown) => string) | undefined;
        return (data: unknown) => (compiled ??= compile(route) as (data: unknown) => string)(data);
      };
    }) as BuildSerializer,
  },
};
