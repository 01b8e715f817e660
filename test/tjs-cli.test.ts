// `trim score` and the local-folder flags of `trim solve`: real child processes for the happy paths (the
// CLI as a user runs it), in-process calls for argument errors (they fail before any model loads).

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTjsPrm } from '../src/backends/tjs-prm.ts';
import { tinyModel } from './helpers/fixtures.ts';
import { REPO_ROOT } from './helpers/paths.ts';
import { scriptedLm } from './helpers/scripted-lm.ts';
import { trimInProcess as inProcess } from './helpers/cli.ts';

const BIN = resolve(REPO_ROOT, 'src/cli/bin.mjs');

function trim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const PROBLEM = 'Solve 2x + 3 = 11.';
const STEPS = ['Subtract 3: 2x = 8.', 'Divide by 2: x = 4.', 'So \\boxed{4}.'];
let dir: string;
let prmDir: string;
let lmDir: string;
let stepsFile: string;

beforeAll(async () => {
  prmDir = (await tinyModel({ head: 'two-class', precisions: ['fp32', 'q4'], seed: 7 })).dir;
  lmDir = (await scriptedLm()).dir;
  dir = mkdtempSync(join(tmpdir(), 'trim-score-'));
  stepsFile = join(dir, 'steps.json');
  writeFileSync(stepsFile, JSON.stringify(STEPS));
});
afterEach(() => vi.restoreAllMocks());

describe('trim score', () => {
  it('prints {"scores": [...]}, one per step, the same numbers incrementally and with --full', async () => {
    const [inc, full] = await Promise.all([
      trim(['score', '--prm-path', prmDir, '--problem', PROBLEM, '--steps-file', stepsFile, '--json']),
      trim(['score', '--prm-path', prmDir, '--problem', PROBLEM, '--steps-file', stepsFile, '--json', '--full']),
    ]);
    expect(inc.stderr).toBe('');
    expect(inc.code).toBe(0);
    expect(Object.keys(JSON.parse(inc.stdout))).toEqual(['scores']);
    const a = JSON.parse(inc.stdout).scores as number[];
    const b = JSON.parse(full.stdout).scores as number[];
    const prm = await loadTjsPrm({ model: prmDir, incremental: false });
    const direct = await prm.score({ problem: PROBLEM, steps: STEPS });
    await prm.dispose();
    expect(a).toHaveLength(3);
    a.forEach((s, i) => {
      expect(Math.abs(s - b[i]!)).toBeLessThan(1e-5);
      expect(Math.abs(s - direct[i]!)).toBeLessThan(1e-5);
    });
  });

  it('prints one score per line without --json, reading the problem from a file', async () => {
    const problemFile = join(dir, 'problem.txt');
    writeFileSync(problemFile, PROBLEM);
    const r = await inProcess(['score', '--prm-path', prmDir, '--prm-head', 'two-class', '--problem-file', problemFile, '--steps-file', stepsFile]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map(Number);
    expect(lines).toHaveLength(3);
    for (const s of lines) expect(s > 0 && s < 1).toBe(true);
  });

  it.each([
    [['--problem', PROBLEM, '--steps-file', 'STEPS'], /--prm-path DIR is required/],
    [['--prm-path', 'PRM', '--steps-file', 'STEPS'], /exactly one of --problem TEXT or --problem-file/],
    [['--prm-path', 'PRM', '--problem', PROBLEM], /--steps-file FILE is required/],
    [['--prm-path', 'PRM', '--problem', PROBLEM, '--steps-file', 'NOT JSON'], /is not valid JSON.*array of strings/],
    [['--prm-path', 'PRM', '--problem', PROBLEM, '--steps-file', 'NUMBERS'], /must hold a JSON array of strings/],
    [['--prm-path', 'PRM', '--problem', PROBLEM, '--steps-file', 'MISSING'], /Cannot read --steps-file .*ENOENT/],
    [['--prm-path', '/nonexistent/prm', '--problem', PROBLEM, '--steps-file', 'STEPS'], /no config\.json there.*trim build-model/],
    [['--prm-path', 'PRM', '--prm-head', 'sigmoid', '--problem', PROBLEM, '--steps-file', 'STEPS'], /--prm-head must be one of two-class, value, lm-tag/],
    [['--prm-path', 'PRM', '--prm-head', 'value', '--problem', PROBLEM, '--steps-file', 'STEPS'], /2 numbers per token.*--prm-head two-class/],
    [['--prm-path', 'PRM', '--prm-dtype', 'q3', '--problem', PROBLEM, '--steps-file', 'STEPS'], /--prm-dtype must be one of/],
    [['--prm-path', 'PRM', '--policy', 'thr', '--problem', PROBLEM, '--steps-file', 'STEPS'], /Unknown option '--policy'/],
  ])('refuses bad arguments with exit code 2: %j', async (args, message) => {
    const files: Record<string, string> = { 'NOT JSON': '[oops', NUMBERS: '[1, 2]', STEPS: JSON.stringify(STEPS) };
    const real = args.map((a) => {
      if (a === 'PRM') return prmDir;
      if (a === 'MISSING') return join(dir, 'missing.json');
      if (files[a] === undefined) return a;
      const f = join(dir, `${a.replace(/\W/g, '_')}.json`);
      writeFileSync(f, files[a]!);
      return f;
    });
    const r = await inProcess(['score', ...real]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('trim solve with local folders', () => {
  it('drafts, scores and regenerates with models on this machine, sending nothing', async () => {
    const r = await trim([
      'solve', '--problem', 'What is 1+1?', '--weak-path', lmDir, '--strong-path', lmDir, '--strong-dtype', 'fp32',
      '--prm-path', prmDir, '--policy', 'thr', '--threshold', '0.999', '--max-steps', '3', '--seed', '1', '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    // The scripted model writes "x=1" first and "y+" after any accepted step, whoever asks.
    expect(out.steps.map((s: { text: string }) => s.text)).toEqual(['x=1', 'y+', 'y+']);
    expect(out.finish).toBe('max-steps');
    // Threshold 0.999: the random PRM rejects every draft, so the strong folder writes every step.
    expect(out.steps.map((s: { source: string }) => s.source)).toEqual(['strong', 'strong', 'strong']);
    for (const s of out.steps) expect(s.draft.score).toBeLessThan(0.999);
    expect(out.ledger).toMatchObject({ strongCalls: 3, strongTokens: 4 + 3 + 3, prmCalls: 3, sentChars: 0 });
  });

  it.each([
    [['--weak-path', 'LM', '--weak-model', 'x'], /--weak-model is for --weak-url; --weak-path reads everything from the folder/],
    [['--weak-path', 'LM', '--weak-url', 'http://127.0.0.1:9'], /Give only one of --weak-url or --weak-path/],
    [['--weak-path', '/nonexistent/lm'], /--weak-path \/nonexistent\/lm: no config\.json there/],
    [['--weak-path', 'LM', '--prm-head', 'value'], /--prm-head goes with --prm-path DIR/],
    [['--weak-path', 'LM', '--weak-dtype', 'f32'], /--weak-dtype must be one of/],
    [['--strong-path', 'LM'], /The weak model is missing: give --weak-url or --weak-path/],
  ])('refuses inconsistent folder flags with exit code 2: %j', async (args, message) => {
    const real = args.map((a) => (a === 'LM' ? lmDir : a));
    const hasStrong = real.includes('--strong-path');
    const r = await inProcess(['solve', '--problem', 'Q', ...real, ...(hasStrong ? [] : ['--strong-path', lmDir]), '--policy', 'weak-only']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
