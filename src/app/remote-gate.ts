// While the page is offline (or no remote model is configured) routing to the remote model is paused:
// the policy still decides, but a step it would have sent is kept from the small model and marked, so
// the user sees exactly which steps would have left the device. `navigator.onLine` is only a hint (it
// stays true behind a captive portal, a dead VPN or in some browsers' offline mode): a request that gets
// no response at all pauses routing too, for the rest of that run ('unreachable', decided in solve()).

import type { PolicyEpisode, RoutingPolicy } from '../core/types.ts';

export type HoldReason = 'offline' | 'no-remote' | 'unreachable';

/** Returns why remote calls are paused right now, or null when they may go out. */
export type RemoteGate = () => HoldReason | null;

export interface Hold {
  /** 1-based step index whose remote call was held back. */
  t: number;
  reason: HoldReason;
}

export function gatedPolicy(inner: RoutingPolicy, gate: RemoteGate, onHold: (h: Hold) => void): RoutingPolicy {
  return {
    id: inner.id,
    knob: inner.knob,
    episode(seed?: number): PolicyEpisode {
      const e = inner.episode(seed);
      return {
        plan(t) {
          const p = e.plan(t);
          const reason = p === 'strong' ? gate() : null;
          if (!reason) return p;
          onHold({ t, reason });
          return 'accept';
        },
        decide(o) {
          const d = e.decide(o);
          const reason = d === 'regenerate' ? gate() : null;
          if (!reason) return d;
          onHold({ t: o.t, reason });
          return 'accept';
        },
      };
    },
  };
}

export function holdMessage(reason: HoldReason): string {
  if (reason === 'offline') return 'Offline: this step would have been sent to the remote model; the small model’s draft was kept.';
  if (reason === 'unreachable') return 'The remote model could not be reached: this step would have been sent to it; the small model’s draft was kept.';
  return 'No remote model is configured: this step would have been sent; the small model’s draft was kept.';
}

/** Why the remote could not be reached in the current run: its host and the request's error. */
export interface Unreachable {
  host: string;
  error: string;
}

/** The network banner's text, or null when there is nothing to say. */
export function networkBanner(online: boolean, unreachable: Unreachable | null): string | null {
  if (unreachable)
    return (
      `The remote model at ${unreachable.host} cannot be reached, so routing to it is paused for this solve: ` +
      'steps that would have been sent are kept from the small model and marked. Check the network connection and ' +
      `that the server is running and accepts requests from this page; the next solve tries it again. (${unreachable.error})`
    );
  if (!online) return 'Offline: routing to the remote model is paused. Steps that would have been sent are kept from the small model and marked.';
  return null;
}
