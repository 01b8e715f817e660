// Who may talk to `trim serve`. Any web page the user visits can send requests to a port on their
// machine, so the server answers only pages from this machine (loopback origins) unless told otherwise
// (--cors), and only requests addressed to it by a loopback name (Host), so a DNS-rebinding page, whose
// requests carry its own domain as Host, is refused even though the browser thinks it same-origin.

/** Whether a host name (no port; IPv6 with or without brackets) names this machine. */
export function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** An IP address literal: rebinding needs a DNS name, so a Host that is an address cannot be rebound. */
function isIpLiteral(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return /^\d{1,3}(?:\.\d{1,3}){3}$/.test(h) || (h.includes(':') && /^[0-9a-f:.]+$/i.test(h));
}

const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '[::]']);

/** The name part of a Host header ("example.com:8000" → "example.com", "[::1]:80" → "[::1]"). */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d*$/, '');
}

/** "https://Example.com:443/" → "https://example.com"; null for anything that is not a plain web origin. */
export function normalizeOrigin(value: string): string | null {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) return null;
    return u.origin;
  } catch {
    return null;
  }
}

export interface AccessOptions {
  /** Origins allowed besides loopback ones; "*" allows every origin. */
  cors?: readonly string[];
  /** Host names accepted besides loopback names (and the bound address); "*" accepts any. */
  allowedHosts?: readonly string[];
}

export interface Access {
  /** Whether a request carrying this Host header is addressed to this server by an accepted name. */
  hostAllowed(header: string | undefined): boolean;
  /** The Access-Control-Allow-Origin value for this Origin, or null when the origin is refused. */
  allowOrigin(origin: string): string | null;
}

/** Checks an option list up front: every --cors entry must be an origin or "*". */
export function checkCorsList(list: readonly string[]): string | null {
  for (const o of list) if (o !== '*' && normalizeOrigin(o) === null) return o;
  return null;
}

/**
 * The rules for a server bound to `bindHost`: Host headers that are loopback names always pass; a
 * server bound to one address also accepts that address, and one bound to every interface
 * (0.0.0.0, ::) any IP address, as clients on the network reach it by address; names beyond these
 * must be listed in allowedHosts.
 */
export function accessRules(bindHost: string, o: AccessOptions = {}): Access {
  const bind = bindHost.toLowerCase();
  const wildcard = WILDCARD_BINDS.has(bind);
  const bound = bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind;
  const hosts = new Set((o.allowedHosts ?? []).map((h) => h.trim().toLowerCase()));
  const anyHost = hosts.has('*');
  const anyOrigin = (o.cors ?? []).includes('*');
  const origins = new Set((o.cors ?? []).map(normalizeOrigin).filter((x): x is string => x !== null));
  return {
    hostAllowed(header) {
      if (anyHost) return true;
      // HTTP/1.1 requires Host (Node answers 400 without one); an HTTP/1.0 client without it is no browser.
      if (header === undefined) return true;
      const name = hostName(header);
      if (isLoopbackName(name) || hosts.has(name)) return true;
      if (wildcard) return isIpLiteral(name);
      return name === bound;
    },
    allowOrigin(origin) {
      const normal = normalizeOrigin(origin);
      if (normal !== null && (isLoopbackName(new URL(normal).hostname) || origins.has(normal))) return normal;
      return anyOrigin ? '*' : null;
    },
  };
}
