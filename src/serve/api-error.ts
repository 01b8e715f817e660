// Errors a client sees, in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with the
// matching HTTP status, so OpenAI SDKs and our own client report them like the real services' errors.

import { TrimError } from '../core/errors.ts';

export type ApiErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error' | 'rate_limit_error';

export class ApiError extends TrimError {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType = status === 404 ? 'not_found_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: ApiErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for one parameter: says which, and what it must be. */
export function badParam(param: string, message: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, message, 'invalid_request_error', param, code);
}
