// `trim build-model` and `trim convert` as a user runs them: exit codes, messages, and folders that load.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModel } from '@huggingface/transformers';
import { REPO_ROOT } from './helpers/paths.ts';
import { writeCheckpoint } from './helpers/checkpoint.ts';
import { forward, maxAbsDiff, useLocalModels } from './helpers/tjs.ts';
import { randomModelSpec } from '../src/onnx/build-random.ts';
import { randomWeights } from '../src/onnx/random-weights.ts';
import { readAll } from '../src/onnx/weights.ts';
import { command as buildModel } from '../src/cli/commands/build-model.ts';
import { command as convert } from '../src/cli/commands/convert.ts';
import { UsageError } from '../src/cli/command.ts';

function trim(...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'src/cli/bin.mjs'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'trim-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('trim build-model', () => {
  it('writes fp32 and q4 models of the asked size and head', async () => {
    const r = trim('build-model', '--out', join(work, 'pm'), '--head', 'two-class', '--layers', '1', '--hidden', '32',
      '--heads', '2', '--kv-heads', '1', '--seed', '3', '--quantize', 'q4');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/onnx\/model\.onnx\s/);
    expect(r.out).toMatch(/onnx\/model_q4\.onnx\s/);
    const config = JSON.parse(await readFile(join(work, 'pm', 'config.json'), 'utf8'));
    expect(config).toMatchObject({ hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, trim: { head: 'two-class', seed: 3 } });
    useLocalModels(work + '/');
    const model = await AutoModel.from_pretrained('pm', { dtype: 'q4', device: 'cpu' });
    const out = await forward(model, [[1, 2, 3]]);
    expect(out.dims).toEqual([1, 3, 2]);
  });

  it.each([
    [['--out', 'x', '--head', 'reward'], /--head reward: expected one of lm, value, two-class/],
    [['--out', 'x', '--layers', '0'], /--layers 0: expected a positive integer/],
    [['--out', 'x', '--hidden', '6.5'], /--hidden 6.5: expected a positive integer/],
    [['--out', 'x', '--quantize', 'q8'], /only q4/],
    [['--out', 'x', '--skip-fp32'], /--skip-fp32 needs --quantize q4/],
    [['--out', 'x', '--external-data', 'maybe'], /auto, always or never/],
    [['--out', 'x', '--merges-corpus', 'c.txt'], /--merges-corpus needs --vocab larger than 260/],
    [['--head', 'lm'], /--out DIR is required/],
    [['--out', 'x', '--bogus'], /Unknown option '--bogus'/],
  ])('rejects %j as a usage error', async (args, message) => {
    const err = await buildModel.run(args).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect(existsSync(join(REPO_ROOT, 'x'))).toBe(false);
  });

  it('exits with code 2 on a usage error', () => {
    const r = trim('build-model', '--out', join(work, 'never'), '--head', 'reward');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^trim build-model: --head reward/);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('refuses sizes whose tensors cannot be built in memory', async () => {
    await expect(buildModel.run(['--out', join(work, 'huge'), '--layers', '1000000', '--hidden', '100000', '--heads', '10'])).rejects.toThrow(
      /would hold 10000000000 values/,
    );
    expect(existsSync(join(work, 'huge'))).toBe(false);
  });

  it('explains model sizes that cannot work (exit code 1)', () => {
    const r = trim('build-model', '--out', join(work, 'bad'), '--hidden', '64', '--heads', '4', '--kv-heads', '3');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/numHeads \(4\) must be a multiple of numKvHeads \(3\)/);
  });
});

describe('trim convert', () => {
  it('converts a sharded BF16 value-head checkpoint to a q4-only folder', async () => {
    const spec = randomModelSpec({ head: 'value', layers: 1 });
    await writeCheckpoint(join(work, 'ckpt'), spec, await readAll(spec, randomWeights(spec, 2)), { dtype: 'BF16', shards: 2 });
    const r = trim('convert', '--checkpoint', join(work, 'ckpt'), '--out', join(work, 'conv'), '--head', 'value', '--quantize', 'q4', '--skip-fp32');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/model_q4\.onnx/);
    expect(existsSync(join(work, 'conv', 'onnx', 'model.onnx'))).toBe(false);
    const config = JSON.parse(await readFile(join(work, 'conv', 'config.json'), 'utf8'));
    expect(config['transformers.js_config'].dtype).toBe('q4');
    // Without a dtype, transformers.js takes the folder's default (q4), which is the only file present.
    useLocalModels(work + '/');
    const model = await AutoModel.from_pretrained('conv', { device: 'cpu' });
    const a = await forward(model, [[5, 6, 7, 8]]);
    expect(a.dims).toEqual([1, 4, 1]);
    expect(maxAbsDiff(a.logits, new Float32Array(4))).toBeGreaterThan(0);
  });

  it('asks for the missing flags', async () => {
    await expect(convert.run(['--out', join(work, 'o'), '--head', 'value'])).rejects.toThrow(/--checkpoint DIR is required/);
    await expect(convert.run(['--checkpoint', join(work, 'ckpt'), '--out', join(work, 'o')])).rejects.toThrow(/--head is required/);
    await expect(convert.run(['--checkpoint', join(work, 'ckpt'), '--out', join(work, 'o')])).rejects.toBeInstanceOf(UsageError);
  });
});
