// What a link would change about where the page sends data or fetches models from. A link is
// untrusted: anyone can send one. It may tighten the user's settings but not quietly point them at a
// new server, so a link whose settings reach a host the user's own settings do not (and the user has
// not agreed to before) is shown to the user first; until they agree, the page runs with their own
// settings and nothing goes to that host. Pure: no DOM, no storage, no network.

import type { Settings } from './settings.ts';

export type DestinationRole = 'remote' | 'weak' | 'prm' | 'strong' | 'bundle';

export interface Destination {
  /** Scheme, host and port: what the browser sends requests to. */
  origin: string;
  /** host[:port], for people. */
  host: string;
  /** The settings that reach it. */
  roles: DestinationRole[];
}

const ROLE_TEXT: Record<DestinationRole, string> = {
  remote: 'remote model: receives the problem and the steps it is asked to write',
  weak: 'small model: downloaded from there',
  prm: 'process reward model: downloaded from there',
  strong: 'strong model on this device: downloaded from there',
  bundle: 'routing bundle: downloaded from there (it decides which steps are sent)',
};

export function describeRoles(roles: readonly DestinationRole[]): string {
  return roles.map((r) => ROLE_TEXT[r]).join('; ');
}

/**
 * The hosts outside the page's own origin that the URLs in `s` send anything to or fetch anything
 * from. The remote counts even on the page's own origin: it receives the user's problems, the page
 * does not. A WebLLM model id names no host: its downloads come from WebLLM's own model list, which a
 * link cannot change.
 */
export function destinations(s: Settings, pageUrl: string): Destination[] {
  const page = new URL(pageUrl).origin;
  const found = new Map<string, Destination>();
  const add = (origin: string | null, role: DestinationRole, evenOnPage = false) => {
    if (!origin || (origin === page && !evenOnPage)) return;
    const d = found.get(origin) ?? { origin, host: new URL(origin).host, roles: [] };
    if (!d.roles.includes(role)) d.roles.push(role);
    found.set(origin, d);
  };
  if (s.remote) add(originOf(s.remote.baseUrl, pageUrl), 'remote', true);
  if (s.weak.kind === 'tjs') add(originOf(s.weak.url, pageUrl), 'weak');
  if (s.prm.kind === 'tjs') add(originOf(s.prm.url, pageUrl), 'prm');
  if (s.strongLocal) add(originOf(s.strongLocal, pageUrl), 'strong');
  if (s.bundle) add(originOf(s.bundle, pageUrl), 'bundle');
  return [...found.values()];
}

export interface LinkReview {
  /** Hosts the link's settings reach that the user's own settings do not; empty: nothing to ask. */
  newHosts: Destination[];
}

/**
 * Compares the settings a link asks for with the user's own (`stored`: the defaults for a first-time
 * visitor) and the origins they agreed to from earlier links.
 */
export function reviewLink(opts: { link: Settings; stored: Settings; pageUrl: string; agreed: readonly string[] }): LinkReview {
  const known = new Set([...destinations(opts.stored, opts.pageUrl).map((d) => d.origin), ...opts.agreed]);
  return { newHosts: destinations(opts.link, opts.pageUrl).filter((d) => !known.has(d.origin)) };
}

function originOf(url: string, base: string): string | null {
  try {
    const u = new URL(url, base);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}
