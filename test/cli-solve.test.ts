// `trim solve` as a user runs it: a child process against real HTTP servers on 127.0.0.1.

import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { continuedSteps, prmSteps, startOpenAIServer, type TestServer } from './helpers/openai-server.ts';
import { REPO_ROOT } from './helpers/paths.ts';
import { UsageError } from '../src/cli/command.ts';
import { buildRun, parseFlags } from '../src/cli/model-flags.ts';

const BIN = resolve(REPO_ROOT, 'src/cli/bin.mjs');
const KEY = 'sk-cli-SECRET-55555';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function trim(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let weak: TestServer;
let strong: TestServer;
let prm: TestServer;
beforeAll(async () => {
  [weak, strong, prm] = await Promise.all([
    startOpenAIServer({ respond: (r) => ({ text: ['Add 1 and 2.', 'BAD: 1+2 = 4.', 'So \\boxed{3}.'][continuedSteps(r).length] ?? '\\boxed{3}' }) }),
    startOpenAIServer({ respond: () => ({ text: 'Indeed 1+2 = 3.' }), apiKey: KEY }),
    startOpenAIServer({ respond: (r) => ({ scores: prmSteps(r).map((s) => (s.startsWith('BAD') ? [0.7, 0.3] : [0.1, 0.9])) }) }),
  ]);
});
afterAll(() => Promise.all([weak.close(), strong.close(), prm.close()]));

const flags = () => [
  '--weak-url', weak.url, '--weak-model', 'small', '--weak-mode', 'raw',
  '--strong-url', `${strong.url}/v1/`, '--strong-model', 'big', '--strong-key-env', 'TRIM_TEST_STRONG_KEY',
  '--prm-url', prm.url, '--prm-model', 'Qwen/Qwen2.5-Math-PRM-7B',
];

describe('trim solve', () => {
  it('--json prints one object in the documented shape; the key is used but never printed', async () => {
    const r = await trim(['solve', '--problem', 'What is 1+2?', ...flags(), '--policy', 'thr', '--threshold', '0.5', '--seed', '3', '--json'], {
      TRIM_TEST_STRONG_KEY: KEY,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['answer', 'finish', 'ledger', 'policy', 'problem', 'steps', 'timing']);
    expect(out).toMatchObject({ problem: 'What is 1+2?', answer: '3', finish: 'boxed', policy: { id: 'thr', knob: 0.5 } });
    expect(out.steps.map((s: { source: string }) => s.source)).toEqual(['weak', 'strong', 'weak']);
    expect(out.steps[1]).toMatchObject({ index: 1, text: 'Indeed 1+2 = 3.', source: 'strong', draft: { text: 'BAD: 1+2 = 4.', score: 0.3 } });
    expect(out.steps[0]).toMatchObject({ index: 0, source: 'weak', score: 0.9, draft: null });
    for (const s of out.steps) expect(Object.keys(s)).toEqual(expect.arrayContaining(['index', 'text', 'source', 'score', 'draft', 'tokens']));
    expect(Object.keys(out.ledger).sort()).toEqual(['discardedDraftTokens', 'prmCalls', 'sentChars', 'strongCalls', 'strongPromptTokens', 'strongTokens', 'weakTokens']);
    expect(out.ledger).toMatchObject({ strongCalls: 1, prmCalls: 3, strongTokens: strong.requests[0]!.usage!.completion_tokens });
    expect(Object.keys(out.timing).sort()).toEqual(['draftMs', 'scoreMs', 'strongMs', 'totalMs']);
    expect(strong.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(strong.requests[0]!.body).toMatchObject({ temperature: 0.7, top_p: 0.8, seed: 3, continue_final_message: true });
    expect(weak.requests[0]!.path).toBe('/v1/completions');
    expect(r.stdout).not.toContain(KEY);
  });

  it('--temperature and --top-p reach both models (the README measures a bundle with the weak model at 1.0)', async () => {
    const before = [weak.requests.length, strong.requests.length];
    const r = await trim(['solve', '--problem', 'What is 1+2?', ...flags(), '--policy', 'thr', '--threshold', '0.5', '--temperature', '1.0', '--top-p', '0.9', '--json'], {
      TRIM_TEST_STRONG_KEY: KEY,
    });
    expect(r.code).toBe(0);
    const sent = [...weak.requests.slice(before[0]), ...strong.requests.slice(before[1])];
    expect(weak.requests.length).toBeGreaterThan(before[0]!);
    expect(strong.requests.length).toBeGreaterThan(before[1]!);
    for (const q of sent) expect(q.body).toMatchObject({ temperature: 1, top_p: 0.9 });
  });

  it('prints a readable transcript without --json', async () => {
    const r = await trim(['solve', '--problem', 'What is 1+2?', ...flags(), '--policy', 'weak-only'], { TRIM_TEST_STRONG_KEY: KEY });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[1\] weak +score +- +\d+ tokens\n {4}Add 1 and 2\./);
    expect(r.stdout).toContain('Answer: 3   finish: boxed');
    expect(r.stdout).toMatch(/Strong: 0 tokens in 0 calls/);
  });

  it('bad arguments exit 2 with one line on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['solve', '--problem', 'p', ...flags(), '--policy', 'thr', '--bogus'], /^trim solve: Unknown option '--bogus'/],
      [['solve', '--problem', 'p', ...flags(), '--policy', 'random', '--threshold', '0.5'], /^trim solve: --threshold does not apply to --policy random \(its knob is --rate\)/],
      [['solve', '--problem', 'p', ...flags(), '--policy', 'thr', '--on-unreachable', 'skip'], /^trim solve: --on-unreachable must be fail or hold; got "skip"\./],
    ];
    const runs = await Promise.all(cases.map(([args]) => trim(args, { TRIM_TEST_STRONG_KEY: KEY })));
    runs.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });

  it('every kind of bad argument is a UsageError that says what to give', () => {
    const env = { TRIM_TEST_STRONG_KEY: KEY };
    const cases: [string[], RegExp][] = [
      [[...flags()], /--policy is required/],
      [[...flags(), '--policy', 'nope'], /Unknown policy "nope"\. Known: thr, weak-only, strong-only, query, random/],
      [[...flags(), '--policy', 'weak-only', '--rate', '0.2'], /--rate does not apply to --policy weak-only \(it has no knob\)/],
      [[...flags(), '--policy', 'thr', '--threshold', '1.5'], /--threshold must be a number in \[0, 1\]; got "1\.5"/],
      [[...flags(), '--policy', 'thr', '--threshold', ''], /--threshold must be a number/],
      [[...flags(), '--policy', 'thr', '--weak-mode', 'telepathy'], /--weak-mode must be one of raw, continue, prefix, instruct/],
      [[...flags().slice(0, -4), '--policy', 'thr'], /--policy thr scores drafts with a PRM: give --prm-url URL and --prm-model NAME/],
      [[...flags().slice(0, -2), '--policy', 'weak-only'], /--prm-model is required/],
      [[...flags().slice(4), '--policy', 'weak-only'], /The weak model is missing: give --weak-url/],
      [[...flags(), '--policy', 'weak-only', '--weak-url', 'localhost:8000'], /must start with http:\/\/ or https:\/\/.*such as http:\/\/127\.0\.0\.1:8000/],
      [[...flags(), '--policy', 'weak-only', '--max-steps', '2.5'], /--max-steps must be a whole number/],
      [[...flags(), '--policy', 'weak-only', '--temperature', 'hot'], /--temperature must be a number in \[0, 2\]/],
      [[...flags(), '--policy', 'weak-only', '--strong-key-env', 'sk-abc def'], /takes the NAME of an environment variable/],
    ];
    for (const [args, message] of cases) {
      let err: unknown;
      try {
        buildRun(parseFlags(args, {}).values, env);
      } catch (e) {
        err = e;
      }
      expect(err, args.join(' ')).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain(KEY);
    }
    const key = 'sk-has a space';
    expect(() => buildRun(parseFlags([...flags(), '--policy', 'weak-only'], {}).values, { TRIM_TEST_STRONG_KEY: key })).toThrow(/contains spaces/);
    expect(() => buildRun(parseFlags([...flags(), '--policy', 'weak-only'], {}).values, { TRIM_TEST_STRONG_KEY: key })).not.toThrow(/sk-has/);
  });

  it('names the missing key variable without printing any key', async () => {
    const r = await trim(['solve', '--problem', 'p', ...flags(), '--policy', 'weak-only'], { TRIM_TEST_STRONG_KEY: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('trim solve: The environment variable TRIM_TEST_STRONG_KEY (named by --strong-key-env) is not set or empty.\n');
  });

  it('an unreachable server exits 1 with one line naming it', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const args = ['solve', '--problem', 'p', ...flags(), '--policy', 'weak-only'];
    args[args.indexOf('--weak-url') + 1] = `http://127.0.0.1:${port}`;
    const r = await trim(args, { TRIM_TEST_STRONG_KEY: KEY });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `trim solve: http://127.0.0.1:${port}/v1/completions is unavailable: connection refused (ECONNREFUSED) (4 tries). Check that the server is running and reachable, then try again.\n`,
    );
  });

  it('an unreachable strong server fails loudly by default; --on-unreachable hold keeps the drafts, says so on stderr and exits 0', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const args = ['solve', '--problem', 'What is 1+2?', ...flags(), '--policy', 'thr', '--threshold', '0.5', '--json'];
    args[args.indexOf('--strong-url') + 1] = `http://127.0.0.1:${port}`;
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    const [failed, held] = await Promise.all([trim(args, { TRIM_TEST_STRONG_KEY: KEY }), trim([...args, '--on-unreachable', 'hold'], { TRIM_TEST_STRONG_KEY: KEY })]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toBe(`trim solve: ${url} is unavailable: connection refused (ECONNREFUSED) (4 tries). Check that the server is running and reachable, then try again.\n`);

    expect(held.code).toBe(0);
    expect(held.stderr).toBe(
      `trim solve: step 2 kept from the weak model: ${url} is unavailable: connection refused (ECONNREFUSED) (4 tries). Check that the server is running and reachable, then try again.\n`,
    );
    const out = JSON.parse(held.stdout);
    expect(out).toMatchObject({ answer: '3', finish: 'boxed' });
    expect(out.steps.map((s: { source: string; text: string }) => [s.source, s.text])).toEqual([
      ['weak', 'Add 1 and 2.'],
      ['weak', 'BAD: 1+2 = 4.'],
      ['weak', 'So \\boxed{3}.'],
    ]);
    expect(out.ledger.strongCalls).toBe(0);
    // The JSON says which step was held, so a script need not parse stderr.
    expect(out.steps.map((s: { held?: string }) => s.held ?? null)).toEqual([null, 'unreachable', null]);
  });

  it('a bad response exits 1 with one line, and a rejected key is reported without the key', async () => {
    prm.enqueue({ scores: [[0.5]] });
    const r = await trim(['solve', '--problem', 'p', ...flags(), '--policy', 'thr'], { TRIM_TEST_STRONG_KEY: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^trim solve: http:\/\/127\.0\.0\.1:\d+\/pooling sent a response .*not a \[p_negative, p_positive\] pair/);

    const wrong = 'sk-wrong-SECRET-1';
    const k = await trim(['solve', '--problem', 'p', ...flags(), '--policy', 'strong-only'], { TRIM_TEST_STRONG_KEY: wrong });
    expect(k.code).toBe(1);
    expect(k.stderr).toBe(`trim solve: ${strong.url}/v1/chat/completions answered HTTP 401: Incorrect API key provided. Check the API key.\n`);
  });

  it('runs as `npx trim` from the checkout (npm resolves the project\'s own bin)', async () => {
    const r = await new Promise<Run>((done) =>
      execFile('npx', ['--no-install', 'trim', 'solve', '--help'], { cwd: resolve(REPO_ROOT, 'src'), timeout: 60_000 }, (err, stdout, stderr) =>
        done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: trim solve/);
  });

  it('--help lists the flags', async () => {
    const r = await trim(['solve', '--help']);
    expect(r.code).toBe(0);
    for (const f of ['--problem-file', '--weak-mode', '--strong-key-env', '--prm-model', '--threshold', '--rate', '--max-step-tokens', '--top-p', '--seed', '--on-unreachable', '--json'])
      expect(r.stdout).toContain(f);
  });
});
