// The page's routing bundle: the bundle= link parameter and its review, fetching and checking the file,
// and a budget read from the bundle's measured calibration.

import { describe, expect, it } from 'vitest';
import { bundleToJson } from '../src/core/bundle.ts';
import { createPolicy } from '../src/core/policies/index.ts';
import { reviewLink } from '../src/app/link-guard.ts';
import { budgetFromBundle, bundleArtefactsFor, bundleBudgetNote, fetchBundle, withBundleKnob } from '../src/app/routing-bundle.ts';
import { checkBundleUrl, checkPolicy, defaultSettings, parseWeakSpec, usesDemoModels } from '../src/app/settings.ts';
import { readUrlConfig, settingsToQuery } from '../src/app/url-config.ts';
import { sampleBundle, sampleBundleJson } from './helpers/bundle.ts';

const PAGE = 'https://trim.example/app/';

describe('bundle= in links', () => {
  it('reads a relative or http(s) URL, survives settingsToQuery, and refuses other schemes and credentials', () => {
    const c = readUrlConfig('?bundle=./tuned/routing.json&policy=pomdp', defaultSettings());
    expect(c.problems).toEqual([]);
    expect(c.settings.bundle).toBe('./tuned/routing.json');
    expect(readUrlConfig(settingsToQuery(c.settings), defaultSettings()).settings.bundle).toBe('./tuned/routing.json');
    // "No bundle" survives a link although the demo has one by default.
    const none = readUrlConfig('?bundle=', defaultSettings()).settings;
    expect(none.bundle).toBeNull();
    expect(readUrlConfig(settingsToQuery(none), defaultSettings()).settings.bundle).toBeNull();
    expect(readUrlConfig('?bundle=javascript:alert(1)', defaultSettings()).problems.join()).toMatch(/Routing bundle: "javascript:alert\(1\)" is not an http\(s\) URL/);
    // A password in the URL is a credential: removed before anything reads it.
    const creds = readUrlConfig('?bundle=https://u:p@evil.example/b.json', defaultSettings());
    expect(creds.secrets).toEqual(['bundle']);
    expect(creds.settings.bundle).toBe(defaultSettings().bundle);
    expect(() => checkBundleUrl('https://someone@evil.example/b.json')).toThrow(/carries a user name or password/);
    expect(readUrlConfig('?bundle=', { ...defaultSettings(), bundle: 'x.json' }).settings.bundle).toBeNull();
  });

  it('asks first when the bundle comes from another host, not when it is on the page\'s own', () => {
    const stored = defaultSettings();
    const other = readUrlConfig('?bundle=https://tuner.example/routing.json', stored).settings;
    expect(reviewLink({ link: other, stored, pageUrl: PAGE, agreed: [] }).newHosts).toEqual([
      { origin: 'https://tuner.example', host: 'tuner.example', roles: ['bundle'] },
    ]);
    const own = readUrlConfig('?bundle=./routing.json', stored).settings;
    expect(reviewLink({ link: own, stored, pageUrl: PAGE, agreed: [] }).newHosts).toEqual([]);
    expect(reviewLink({ link: other, stored, pageUrl: PAGE, agreed: ['https://tuner.example'] }).newHosts).toEqual([]);
  });

  it('knows when the demo models are in use (the demo bundle is tuned for them alone)', () => {
    expect(usesDemoModels(defaultSettings())).toBe(true);
    expect(usesDemoModels({ ...defaultSettings(), weak: parseWeakSpec('tjs:./models/tiny-lm') })).toBe(false);
    expect(usesDemoModels({ ...defaultSettings(), strongLocal: null })).toBe(false);
  });

  it('accepts agg-lambda as a policy (its networks come with the bundle)', () => {
    expect(checkPolicy('agg-lambda:0.003')).toBe('agg-lambda:0.003');
    expect(() => checkPolicy('agg-lambda:x')).toThrow(/Bad knob/);
  });
});

const respond = (status: number, body: string): typeof fetch => (async () => new Response(body, { status })) as typeof fetch;

describe('fetching a bundle', () => {
  it('returns a checked bundle whose policies run', async () => {
    const b = await fetchBundle('routing.json', PAGE, respond(200, JSON.stringify(sampleBundleJson())));
    const artefacts = bundleArtefactsFor(b, 'pomdp:0.001')!;
    expect(createPolicy('pomdp', { knob: 0.001, artefacts }).knob).toBe(0.001);
    expect(bundleArtefactsFor(b, 'thr:0.5')).toBeUndefined();
  });

  it('says what is wrong: HTTP errors, not JSON, not a bundle, no network', async () => {
    await expect(fetchBundle('r.json', PAGE, respond(404, 'nope'))).rejects.toThrow(/routing bundle https:\/\/trim\.example\/app\/r\.json could not be fetched: HTTP 404\. Check the URL under Settings → Routing/);
    await expect(fetchBundle('r.json', PAGE, respond(200, '<html>'))).rejects.toThrow(/is not JSON/);
    await expect(fetchBundle('r.json', PAGE, respond(200, '{"format":"x"}'))).rejects.toThrow(/is not a usable routing bundle: "format" must be "trim-routing-bundle"/);
    const down = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    await expect(fetchBundle('r.json', PAGE, down)).rejects.toThrow(/could not be fetched \(Failed to fetch\)/);
  });
});

describe('a budget from the bundle', () => {
  it('picks the most accurate measured knob within the share of steps, and says where the share was measured', () => {
    const b = sampleBundle();
    const c = budgetFromBundle(b, 'pomdp', 25)!;
    expect(c).toEqual({ spec: 'pomdp:0.001', spend: 0.2, reached: true });
    expect(bundleBudgetNote(25, c)).toBe('Policy pomdp:0.001 from the routing bundle: sent 20.0% of steps on the problems it was tuned on (budget 25%).');
    expect(budgetFromBundle(b, 'pomdp', 1)).toEqual({ spec: 'pomdp:0.005', spend: 0.03, reached: false });
    // No calibration for thr in this bundle: the simulator's calibration is used instead.
    expect(budgetFromBundle(b, 'thr:0.5', 10)).toBeNull();
  });

  it('gives a bundle policy named without a knob the bundle\'s best knob, or the middle of its grid', () => {
    const b = sampleBundle();
    expect(withBundleKnob(b, 'pomdp')).toBe('pomdp:0.001');
    expect(withBundleKnob(b, 'agg-lambda')).toBe('agg-lambda:0.003');
    expect(withBundleKnob(b, 'pomdp:0.5')).toBe('pomdp:0.5');
    expect(withBundleKnob(b, 'thr')).toBe('thr');
    expect(JSON.stringify(bundleToJson(b))).toContain('trim-routing-bundle');
  });
});
