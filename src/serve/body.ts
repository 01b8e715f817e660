// Request bodies, read with bounded memory: one body may not pass `maxBytes` (refused from its
// Content-Length when it declares one, else as soon as the bytes read pass the limit, keeping none of
// the rest), and no more than `maxConcurrent` bodies are read at once, so slow or huge uploads in
// parallel cannot hold more than maxBytes × maxConcurrent.

import type { IncomingMessage } from 'node:http';
import { errorMessage } from '../core/errors.ts';
import { ApiError } from './api-error.ts';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_MAX_UPLOADS = 8;

/** A refusal that leaves the body unread. */
export class UnreadBodyError extends ApiError {}

// What is discarded of a refused body before the connection is cut.
const DRAIN_BYTES = 32 * 1024 * 1024;
const DRAIN_MS = 10_000;

/**
 * Lets a client whose body was refused (413, 503, 401, 403) read the answer: the rest of its body is
 * read and thrown away, up to DRAIN_BYTES or DRAIN_MS, then the connection is cut. Cutting it at once
 * would reset a client still sending, which then reports a network error instead of the answer
 * (fetch does: "write EPIPE"). Call it before answering, so Node does not drain the body without bound.
 */
export function discardRest(req: IncomingMessage): void {
  let seen = 0;
  const cut = () => req.socket.destroy();
  const timer = setTimeout(cut, DRAIN_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > DRAIN_BYTES) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  // The reader may have paused it, and a paused stream stays paused when a listener is added.
  req.resume();
}

export interface BodyReader {
  /** The JSON body of a request; ApiErrors for a body too large, too many uploads, or bad JSON. */
  read(req: IncomingMessage): Promise<unknown>;
  /** Bodies being read now. */
  readonly reading: number;
}

function tooLarge(maxBytes: number): UnreadBodyError {
  return new UnreadBodyError(
    413,
    `The request body is larger than this server's limit of ${maxBytes} bytes; send a shorter prompt (the server's --max-body sets the limit).`,
    'invalid_request_error',
    null,
    'request_too_large',
  );
}

export function bodyReader(maxBytes = DEFAULT_MAX_BODY_BYTES, maxConcurrent = DEFAULT_MAX_UPLOADS): BodyReader {
  let reading = 0;

  function collect(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (err?: Error) => {
        req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
        if (err) reject(err);
        else resolve(Buffer.concat(chunks, size));
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          // Keep nothing more: the caller answers 413 and discards the rest (discardRest).
          req.pause();
          chunks.length = 0;
          return done(tooLarge(maxBytes));
        }
        chunks.push(chunk);
      };
      const onEnd = () => done();
      const onError = (err: Error) => done(err);
      const onAborted = () => done(new Error('The client closed the connection while sending the request.'));
      req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
    });
  }

  return {
    get reading() {
      return reading;
    },
    async read(req) {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
      if (reading >= maxConcurrent)
        throw new UnreadBodyError(
          503,
          `The server is already receiving ${reading} request bodies; retry in a moment.`,
          'server_error',
          null,
          'too_many_uploads',
        );
      reading++;
      let raw: Buffer;
      try {
        raw = await collect(req);
      } finally {
        reading--;
      }
      try {
        return JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw new ApiError(400, `The request body is not valid JSON: ${errorMessage(err)}.`, 'invalid_request_error', null, 'invalid_json');
      }
    },
  };
}
