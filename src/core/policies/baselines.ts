import type { RoutingPolicy } from '../types.ts';

export const weakOnlyPolicy = (): RoutingPolicy => ({
  id: 'weak-only',
  knob: null,
  episode: () => ({ plan: () => 'accept', decide: () => 'accept' }),
});

export const strongOnlyPolicy = (): RoutingPolicy => ({
  id: 'strong-only',
  knob: null,
  episode: () => ({ plan: () => 'strong', decide: () => 'regenerate' }),
});
