// Every failure a user can meet has its own class, and its message says what to do about it.

export class TrimError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input the user gave that cannot be solved as is. */
export class InvalidProblemError extends TrimError {}

/** A configuration value that cannot work (bad URL, unknown policy, knob out of range…). */
export class ConfigError extends TrimError {}

/** The run was stopped by the user or a caller's AbortSignal. */
export class AbortedError extends TrimError {
  constructor(message = 'Stopped.') {
    super(message);
  }
}

/** A remote endpoint answered with an HTTP error that retrying will not fix (400, 401, 403, 404…). */
export class RemoteHttpError extends TrimError {
  constructor(
    readonly endpoint: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${endpoint} answered HTTP ${status}${detail ? `: ${detail.replace(/[.\s]+$/, '')}` : ''}. ${adviceFor(status)}`.trim());
  }
}

/** Retries were exhausted on 429/5xx/network errors, or a request timed out. */
export class RemoteUnavailableError extends TrimError {
  constructor(
    readonly endpoint: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${endpoint} is unavailable: ${detail}. Check that the server is running and reachable, then try again.`, options);
  }
}

/**
 * Every try failed before any HTTP response came back: connection refused, host not found, the
 * browser offline (`TypeError: Failed to fetch`, which also covers a CORS refusal or mixed content).
 * The page holds the step on the device instead of failing. A request that timed out is not this:
 * something accepted it and then hung, which is a broken server, so it stays a plain
 * RemoteUnavailableError. The message is the parent's: only the class tells the two apart.
 */
export class RemoteUnreachableError extends RemoteUnavailableError {}

/** A remote answered 2xx with a body we cannot use (invalid JSON, wrong shape, cut stream). */
export class RemoteProtocolError extends TrimError {
  constructor(
    readonly endpoint: string,
    detail: string,
  ) {
    super(`${endpoint} sent a response that is not a valid OpenAI-compatible answer: ${detail}.`);
  }
}

/** The user (or a confirmation hook) refused to send a request off the device. */
export class SendRefusedError extends TrimError {}

/** A local model failed to load or run. */
export class ModelLoadError extends TrimError {}

function adviceFor(status: number): string {
  if (status === 401) return 'Check the API key.';
  if (status === 403) return 'The key is not allowed to use this model or endpoint.';
  if (status === 404) return 'Check the base URL and the model name.';
  if (status === 400 || status === 422) return 'The server rejected the request; check the model name and the continuation mode.';
  return '';
}

export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  return err instanceof AbortedError || (err instanceof Error && err.name === 'AbortError');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
