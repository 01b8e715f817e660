// While the page is offline (or no remote model is configured) routing to the remote model is paused:
// the policy still decides, but a step it would have sent is kept from the small model and marked, so
// the user sees exactly which steps would have left the device.

import type { PolicyEpisode, RoutingPolicy } from '../core/types.ts';

export type HoldReason = 'offline' | 'no-remote';

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
  return reason === 'offline'
    ? 'Offline: this step would have been sent to the remote model; the small model’s draft was kept.'
    : 'No remote model is configured: this step would have been sent; the small model’s draft was kept.';
}
