// `trim eval` on a data file whose fields have other names: --problem-field / --answer-field, the
// instruction suffix such files carry, and the paths run.json records.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MATH_SYSTEM_PROMPT } from '../src/core/prompt.ts';
import { parseResults } from '../src/eval/results-log.ts';
import { problemText, startEvalWorld, type EvalWorld, type ScriptedProblem } from './helpers/eval-world.ts';
import { promptText } from './helpers/openai-server.ts';
import { REPO_ROOT } from './helpers/paths.ts';
import { trimChild as trim } from './helpers/cli-child.ts';

const problems: ScriptedProblem[] = [
  { id: 'P1', gold: '7', weakAnswer: '7', score2: 0.8 },
  { id: 'P2', gold: '12', weakAnswer: '3', score2: 0.3 },
];

describe('trim eval --problem-field / --answer-field', () => {
  let dir: string;
  let world: EvalWorld;
  let data: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trim-fields-'));
    world = await startEvalWorld(problems);
    data = join(dir, 'custom.jsonl');
    // Unusual names, the problem as chat messages carrying the reference instruction, the gold nested.
    const line = (p: ScriptedProblem) => ({
      uid: p.id,
      task: [{ role: 'user', content: `${problemText(p)} ${MATH_SYSTEM_PROMPT}` }],
      meta: { reference: p.gold },
    });
    writeFileSync(data, problems.map((p) => JSON.stringify(line(p))).join('\n') + '\n');
  });
  afterAll(async () => {
    await world.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the fields it found when none is a known problem or answer field', async () => {
    const r = await trim(['eval', '--data', data, ...world.flags, '--policy', 'thr', '--out', join(dir, 'refused')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/first record has the fields uid, task, meta/);
    expect(r.stderr).toMatch(/--problem-field and --answer-field/);
    const missing = await trim(['eval', '--data', data, ...world.flags, '--policy', 'thr', '--problem-field', 'task', '--answer-field', 'gold', '--out', join(dir, 'refused')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/has no "gold" field \(--answer-field\); its fields are uid, task, meta/);
  });

  it('reads the named fields, sends the instruction once, and records a path relative to the working directory', async () => {
    const out = join(dir, 'out');
    const args = ['eval', '--data', data, ...world.flags, '--policy', 'thr', '--threshold', '0.5', '--problem-field', 'task', '--answer-field', 'meta.reference', '--out', out, '--seed', '1'];
    const r = await trim(args);
    expect(r.stderr).toMatch(/fields format, 2 records, 2 gradable problems/);
    expect(r.code).toBe(0);
    const rows = parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'), 'results.jsonl');
    expect(rows.map((x) => [x.id, x.gold, x.correct]).sort()).toEqual([
      ['line-1', '7', true],
      ['line-2', '12', true], // score 0.3 < 0.5: the strong model wrote the answer
    ]);
    const prompts = world.weak.generations.map(promptText);
    expect(prompts.length).toBeGreaterThan(0);
    for (const p of prompts) expect(p.split(MATH_SYSTEM_PROMPT).length - 1).toBe(1);

    const manifest = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(manifest.identity).toMatchObject({ data: relative(REPO_ROOT, data), format: 'fields', problemField: 'task', answerField: 'meta.reference' });

    // A record written before paths were relative (absolute) still resumes: same file, same run.
    manifest.identity.data = resolve(data);
    writeFileSync(join(out, 'run.json'), JSON.stringify(manifest));
    const resumed = await trim([...args, '--resume']);
    expect(resumed.stderr).toContain('(2 already done)');
    expect(resumed.code).toBe(0);
  });
});
