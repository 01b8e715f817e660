// Users give server bases ("http://127.0.0.1:8000"); clients append the API paths. Normalising here
// means "…:8000/", "…:8000/v1" and "…:8000/v1/" all reach the same endpoints.

import { ConfigError } from '../core/errors.ts';

/** A validated server base: origin plus an optional path prefix, no trailing slash, no "/v1". */
export interface ServerBase {
  readonly base: string;
  readonly host: string;
}

export function serverBase(raw: string, what = 'server'): ServerBase {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`The ${what} URL "${text}" is not a URL; give a server base such as http://127.0.0.1:8000.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`The ${what} URL "${text}" must start with http:// or https://; give a server base such as http://127.0.0.1:8000.`);
  // Credentials in a URL end up in logs and error messages; keys belong in the Authorization header.
  if (url.username || url.password)
    throw new ConfigError(`The ${what} URL must not contain a user name or password; pass the API key through its environment variable instead.`);
  if (url.search || url.hash)
    throw new ConfigError(`The ${what} URL must be a server base without "?…" or "#…", such as http://127.0.0.1:8000.`);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  return { base: `${url.origin}${path}`, host: url.host };
}

/** The full URL of an API path ("/v1/completions", "/pooling") on a server base. */
export function endpointUrl(server: ServerBase, path: string): string {
  return server.base + path;
}
