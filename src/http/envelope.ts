/**
 * The DJI response envelope `{code, message, data}` (docs/protocol.md §2): code 0 = success. Success
 * with nothing to return carries `data: {}` (decision §10.7). `data` is optional in the schema because
 * errors that keep HTTP 200 (a wrong password, say) are serialized through the route's 200 schema.
 */
import { type Static, type TSchema, Type } from 'typebox';

export function Envelope<T extends TSchema>(data: T) {
  return Type.Object({
    code: Type.Integer({ description: '0 on success; see docs/errors.md' }),
    message: Type.String(),
    data: Type.Optional(data),
  });
}

export const ErrorEnvelope = Type.Object(
  {
    code: Type.Integer({ description: 'non-zero; see docs/errors.md' }),
    message: Type.String(),
    data: Type.Optional(Type.Unknown()),
  },
  { $id: 'ErrorEnvelope' },
);
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;

export const ErrorResponses = {
  '4xx': Type.Ref('ErrorEnvelope'),
  '5xx': Type.Ref('ErrorEnvelope'),
};

export function ok<T>(data: T): { code: 0; message: 'success'; data: T } {
  return { code: 0, message: 'success', data };
}

export const Pagination = Type.Object({
  page: Type.Integer(),
  page_size: Type.Integer(),
  total: Type.Integer(),
});

/** Query of the DJI paged lists: `page` from 1, `page_size` (the demo web asks 50). */
export const PageQuery = Type.Object({
  page: Type.Integer({ minimum: 1, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
});

/** A schema that also accepts null (the JSON shape of a value a file or device may lack). */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/** What a media file is, as every media path spells it. */
export const MediaTypeSchema = Type.Union([
  Type.Literal('image'),
  Type.Literal('video'),
  Type.Literal('other'),
]);
