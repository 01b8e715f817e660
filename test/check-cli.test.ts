// `trim check` and the pure core under it: steps from a pasted solution, the first step below the
// threshold, and the hint request, which must hold the problem and the steps up to the flagged one and
// never a later step (checked on the bytes a loopback server received).

import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadTjsPrm } from '../src/backends/tjs-prm.ts';
import { DEFAULT_FLAG_THRESHOLD, firstError, hintMessages, hintSteps, splitStudentSteps } from '../src/core/check.ts';
import { tinyModel } from './helpers/fixtures.ts';
import { prmSteps, startOpenAIServer, type Responder, type TestServer } from './helpers/openai-server.ts';
import { scriptedLm } from './helpers/scripted-lm.ts';
import { trimInProcess as trim } from './helpers/cli.ts';

describe('the core of "check my work"', () => {
  it('splits a solution into paragraphs, or into lines when it has no blank line', () => {
    expect(splitStudentSteps('First step\nstill first.\n\n  Second step.  \n\n\n\nThird.\n')).toEqual(['First step\nstill first.', 'Second step.', 'Third.']);
    expect(splitStudentSteps('1) 4-3=1\r\n2) 1+6=8\r\n\r\n')).toEqual(['1) 4-3=1', '2) 1+6=8']);
    expect(splitStudentSteps('a\n   \nb')).toEqual(['a', 'b']); // a line of spaces is a blank line
    expect(splitStudentSteps('  one line  ')).toEqual(['one line']);
    expect(splitStudentSteps('')).toEqual([]);
    expect(splitStudentSteps('\n \n\t\n')).toEqual([]);
  });

  it('flags the first step strictly below the threshold', () => {
    expect(DEFAULT_FLAG_THRESHOLD).toBe(0.5);
    expect(firstError([0.9, 0.8, 0.95], 0.5)).toBeNull(); // every step correct
    expect(firstError([0.2, 0.9], 0.5)).toBe(0); // the first step wrong
    expect(firstError([0.5, 0.7], 0.5)).toBeNull(); // equal to the threshold: not flagged
    expect(firstError([0.5, 0.4999], 0.5)).toBe(1);
    expect(firstError([], 0.5)).toBeNull();
  });

  it('builds the hint prompt from the steps up to the flagged one only', () => {
    const steps = ['alpha step', 'beta step', 'gamma step', 'delta step'];
    expect(hintSteps(steps, 1)).toEqual(['alpha step', 'beta step']);
    const text = hintMessages('What is x?', steps, 1)
      .map((m) => m.content)
      .join('\n');
    expect(text).toContain('What is x?');
    expect(text).toContain('alpha step');
    expect(text).toMatch(/step 2\):\n\nbeta step/);
    expect(text).not.toContain('gamma');
    expect(text).not.toContain('delta');
    const first = hintMessages('P', steps, 0)[1]!.content;
    expect(first).not.toContain('so far');
    expect(first).not.toContain('beta');
    expect(() => hintSteps(steps, 4)).toThrow(RangeError);
    expect(() => hintSteps(steps, -1)).toThrow(RangeError);
  });
});

// --- the command --------------------------------------------------------------------------------------

const PROBLEM = 'Start with 4, then 1) -3 2) +6 3) -2.';
/** Each step ends in the score the scripted PRM gives it. */
const STEPS = ['first 0.9', 'second 0.5', 'third 0.2', 'fourth 0.1'];
const scriptedPrm: Responder = (req) =>
  req.path === '/pooling' ? { scores: prmSteps(req).map((s) => Number(s.split(' ').pop())).map((x) => [1 - x, x]) } : { text: 'Look again at what you subtract.', end: 'eos' };

let server: TestServer;
let dir: string;
let stepsFile: string;
let valuePrm: string;
let lmDir: string;

beforeAll(async () => {
  server = await startOpenAIServer();
  dir = mkdtempSync(join(tmpdir(), 'trim-check-'));
  stepsFile = join(dir, 'steps.json');
  writeFileSync(stepsFile, JSON.stringify(STEPS));
  valuePrm = (await tinyModel({ head: 'value', precisions: ['fp32', 'q4'], seed: 7 })).dir;
  lmDir = (await scriptedLm()).dir;
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  server.respond = scriptedPrm;
});

const prm = () => ['--prm-url', server.url, '--prm-model', 'scripted-prm'];
const generations = () => server.generations;

describe('trim check', () => {
  it('prints {"scores", "firstError", "threshold"}; a score equal to the threshold is not flagged', async () => {
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ scores: [0.9, 0.5, 0.2, 0.1], firstError: 2, threshold: 0.5 });
    const pooling = server.requests.filter((q) => q.path === '/pooling');
    expect(pooling).toHaveLength(1);
    expect(prmSteps(pooling[0]!)).toEqual(STEPS);
  });

  it('flags nothing when every step is at or above the threshold, and the first step when it is below', async () => {
    const none = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--threshold', '0.1', '--json']);
    expect(JSON.parse(none.stdout)).toMatchObject({ firstError: null, threshold: 0.1 });
    const first = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--threshold', '0.95', '--json']);
    expect(JSON.parse(first.stdout)).toMatchObject({ firstError: 0 });
  });

  it('reads a plain-text solution and marks the flagged step in the transcript', async () => {
    const file = join(dir, 'mine.txt');
    writeFileSync(file, STEPS.join('\n'));
    const r = await trim(['check', '--problem', PROBLEM, '--solution-file', file, ...prm()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('Threshold 0.5 (default); a step scored below it is flagged.');
    expect(lines.filter((l) => l.startsWith('>'))).toEqual(['>   3  0.200  third 0.2   <- first step below the threshold: look here']);
    expect(lines).toContain('    2  0.500  second 0.5');
    expect(r.stdout).toContain('Step 3 is the first step scored below the threshold.');
  });

  it('takes the threshold from a first-error summary.json', async () => {
    const summary = join(dir, 'summary.json');
    writeFileSync(summary, JSON.stringify({ n: 10, threshold: 0.6 }));
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--threshold-from', summary, '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ firstError: 1, threshold: 0.6 });
  });

  it('asks the strong server for a hint with the problem and the steps up to the flagged one, never a later step', async () => {
    const r = await trim(
      ['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--json', '--hint', '--strong-url', server.url, '--strong-model', 'tutor', '--strong-key-env', 'TUTOR_KEY'],
      { TUTOR_KEY: 'sk-test-0123456789abcdef' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ scores: [0.9, 0.5, 0.2, 0.1], firstError: 2, threshold: 0.5, hint: 'Look again at what you subtract.' });
    expect(generations()).toHaveLength(1);
    const req = generations()[0]!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-test-0123456789abcdef');
    expect(req.body.model).toBe('tutor');
    expect(req.rawBody).toContain(PROBLEM);
    for (const s of STEPS.slice(0, 3)) expect(req.rawBody).toContain(s);
    expect(req.rawBody).not.toContain('fourth');
    expect(req.rawBody).not.toContain('sk-test');
  });

  it('in raw mode sends one completion prompt that still holds no later step', async () => {
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--threshold', '0.6', '--hint', '--strong-url', server.url, '--strong-model', 'tutor', '--strong-mode', 'raw']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Hint for step 2: Look again at what you subtract.');
    const req = generations()[0]!;
    expect(req.path).toBe('/v1/completions');
    expect(req.body.prompt).toContain('first 0.9');
    expect(req.body.prompt).toContain('second 0.5');
    expect(req.body.prompt).not.toContain('third');
    expect(req.body.prompt.endsWith('<|im_start|>assistant\n')).toBe(true);
  });

  it('sends nothing to the strong model when no step is flagged', async () => {
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--threshold', '0', '--json', '--hint', '--strong-url', server.url, '--strong-model', 'tutor']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ scores: [0.9, 0.5, 0.2, 0.1], firstError: null, threshold: 0 });
    expect(generations()).toHaveLength(0);
  });

  it('drops control characters of a hint before printing it', async () => {
    server.respond = (req) => (req.path === '/pooling' ? scriptedPrm(req) : { text: 'Check \u001b[31mthe sign\u0007.', end: 'eos' });
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--hint', '--strong-url', server.url, '--strong-model', 'tutor']);
    expect(r.stdout).toContain('Hint for step 3: Check [31mthe sign.');
    expect(r.stdout).not.toMatch(/[\u0007\u001b]/);
  });

  it('has a strong model in a folder write the flagged step again from the steps before it', async () => {
    // The scripted model writes "x=1" with no step before it and "y+" after accepted steps.
    const later = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--json', '--hint', '--strong-path', lmDir]);
    expect(later.code, later.stderr).toBe(0);
    expect(JSON.parse(later.stdout)).toEqual({ scores: [0.9, 0.5, 0.2, 0.1], firstError: 2, threshold: 0.5, correctedStep: 'y+' });
    const first = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, ...prm(), '--threshold', '0.95', '--hint', '--strong-path', lmDir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Corrected step 1 (written by the strong model from the steps before it):\n    x=1');
    expect(generations()).toHaveLength(0);
  });

  it('scores with a PRM folder exactly as the PRM itself does, sending nothing', async () => {
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, '--prm-path', valuePrm, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const direct = await loadTjsPrm({ model: valuePrm, incremental: false });
    const expected = await direct.score({ problem: PROBLEM, steps: STEPS });
    await direct.dispose();
    out.scores.forEach((s: number, i: number) => expect(Math.abs(s - expected[i]!)).toBeLessThan(1e-5));
    expect(out.firstError).toBe(firstError(out.scores, 0.5));
    expect(server.requests).toHaveLength(0);
  });

  it('takes the flag threshold a PRM folder records in its config.json, unless --threshold is given', async () => {
    const calibrated = join(dir, 'calibrated-prm');
    cpSync(valuePrm, calibrated, { recursive: true });
    const configFile = join(calibrated, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    const writeThreshold = (k: unknown) => writeFileSync(configFile, JSON.stringify({ ...config, trim: { ...config.trim, flagThreshold: k, calibratedOn: 'hand-made cases' } }));
    // The scores of this random PRM, then a recorded threshold just above the third one: it flags step 3
    // unless an earlier step is lower still.
    const { scores } = JSON.parse((await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, '--prm-path', valuePrm, '--json'])).stdout) as { scores: number[] };
    const k = scores[2]! + 1e-6;
    writeThreshold(k);
    const r = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, '--prm-path', calibrated, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ threshold: k, firstError: firstError(scores, k) });
    expect(firstError(scores, k)).not.toBeNull();
    const text = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, '--prm-path', calibrated]);
    expect(text.stdout).toContain(`Threshold ${k} (from ${configFile}, calibrated on hand-made cases)`);
    const given = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, '--prm-path', calibrated, '--threshold', '0', '--json']);
    expect(JSON.parse(given.stdout)).toMatchObject({ threshold: 0, firstError: null });
    writeThreshold('high');
    const bad = await trim(['check', '--problem', PROBLEM, '--steps-file', stepsFile, '--prm-path', calibrated, '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/records a flagThreshold that is not a number in \[0, 1\] \("high"\); fix it or give --threshold K/);
  });

  it('rejects bad arguments with usage errors before anything is sent', async () => {
    const base = ['check', '--problem', PROBLEM, '--steps-file', stepsFile];
    const cases: [string[], RegExp][] = [
      [base, /A PRM is needed/],
      [['check', '--problem', PROBLEM, ...prm()], /--steps-file FILE.json .* or --solution-file/],
      [[...base, '--solution-file', stepsFile, ...prm()], /exactly one of --steps-file/],
      [[...base, ...prm(), '--threshold', '2'], /--threshold must be a number in \[0, 1\]/],
      [[...base, ...prm(), '--threshold', '0.5', '--threshold-from', stepsFile], /not both/],
      [[...base, ...prm(), '--threshold-from', stepsFile], /holds no "threshold"/],
      [[...base, ...prm(), '--strong-url', server.url], /--strong-url is for --hint/],
      [[...base, ...prm(), '--hint'], /--hint needs the strong model/],
      [[...base, ...prm(), '--hint', '--strong-url', server.url], /--strong-model is required/],
      [[...base, ...prm(), '--hint', '--strong-url', server.url, '--strong-model', 'm', '--strong-mode', 'telepathy'], /--strong-mode must be one of/],
      [[...base, ...prm(), '--hint', '--strong-url', server.url, '--strong-model', 'm', '--strong-key-env', 'sk-abcdefghijklmnopqrstuvwx'], /not the key itself/],
      [[...base, '--prm-path', dir], /no config.json there/],
    ];
    for (const [args, message] of cases) {
      const r = await trim(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '\n\n');
    const e = await trim(['check', '--problem', PROBLEM, '--solution-file', empty, ...prm()]);
    expect(e.stderr).toMatch(/no steps to check/);
    expect(server.requests).toHaveLength(0);
  });
});
