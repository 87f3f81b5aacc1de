/**
 * Renders every error as the DJI envelope. AppErrors keep their status and code; Fastify's own errors
 * (bad JSON, schema validation, body too large) are mapped to catalogue entries; anything else is an
 * internal error: logged with its stack, answered with a generic message.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { AppError, isAppError } from '../shared/app-error.ts';

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, reason: appError.message }, 'request refused');
    return send(reply, appError);
  });
  app.setNotFoundHandler((request, reply) => {
    request.log.info('no route');
    return send(
      reply,
      new AppError('RouteNotFound', `There is nothing at ${request.method} ${request.url}.`),
    );
  });
}

function send(reply: FastifyReply, error: AppError) {
  const body: { code: number; message: string; data?: unknown } = {
    code: error.code,
    message: error.message,
  };
  if (error.details !== undefined) body.data = error.details;
  return reply.status(error.status).send(body);
}

export function toAppError(error: FastifyError): AppError {
  if (isAppError(error)) return error;
  if (error.validation) {
    return new AppError(
      'ValidationFailed',
      `The request does not match the expected shape: ${error.message}.`,
      {
        cause: error,
        details: { errors: error.validation.map((v) => ({ path: v.instancePath, message: v.message })) },
      },
    );
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('MalformedJson', undefined, { cause: error });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('BodyTooLarge', undefined, { cause: error });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UnsupportedMediaType', undefined, { cause: error });
  }
  const status = error.statusCode ?? 500;
  if (status === 413) return new AppError('BodyTooLarge', undefined, { cause: error });
  if (status >= 400 && status < 500)
    return new AppError('BadRequest', `The request is not valid: ${error.message}.`);
  return new AppError('Internal', undefined, { cause: error });
}
