// A key pasted where a --*-key-env flag expects a variable NAME must not be printed back: terminals,
// CI logs and screenshots keep what an error shows. Run as a user runs the CLI: a child process.

import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { looksLikeCredential } from '../src/cli/key-env.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const BIN = resolve(REPO_ROOT, 'src/cli/bin.mjs');

function trim(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

// Nothing listens there: every case must fail on its flags before any request.
const solveFlags = (keyFlag: string, value: string) => [
  'solve', '--problem', 'What is 1+2?', '--policy', 'weak-only',
  '--weak-url', 'http://127.0.0.1:9', '--weak-model', 'small',
  '--strong-url', 'http://127.0.0.1:9', '--strong-model', 'big',
  keyFlag, value,
];

// Key-shaped values, each a valid variable name except the first two, so the old check let most through.
const KEYS = [
  'sk-proj-AbCdEf0123456789AbCdEf0123456789',
  'Bearer abc123',
  'hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345',
  'ghp_0123456789abcdefABCDEF0123456789abcd',
  'gsk_0123456789abcdefABCDEF',
  'xq7Rk2mPz9LwV4tN8bYc3HdF', // no prefix: a random 24-character run with digits
];

describe('--*-key-env never prints a key given in place of a variable name', () => {
  it('tells a key-shaped value from variable names', () => {
    for (const k of KEYS) expect(looksLikeCredential(k), k).toBe(true);
    for (const name of ['OPENAI_API_KEY', 'STRONG_API_KEY', 'TRIM_TEST_STRONG_KEY', 'hf_token', 'MyServiceToken', 'KEY_2024_PROD', 'AZURE_OPENAI_API_KEY_WESTEUROPE'])
      expect(looksLikeCredential(name), name).toBe(false);
  });

  for (const flag of ['--strong-key-env', '--weak-key-env'])
    it(`trim solve ${flag} <key>: exit 2, says a variable name is expected, and the key is not in the output`, async () => {
      // The case (no such variable: the error used to name it, key and all), then a key-shaped
      // name that is set: it is still refused, not read from a variable named after it.
      const runs = [...KEYS.map((key) => ({ key, env: {} })), { key: KEYS[2]!, env: envNamedLike(KEYS[2]!) }];
      for (const { key, env } of runs) {
        const r = await trim(solveFlags(flag, key), env);
        expect(r.code, key).toBe(2);
        expect(r.out).toContain(`${flag} takes the NAME of an environment variable`);
        expect(r.out).not.toContain(key);
        expect(r.out).not.toContain(key.slice(4, 16));
      }
    });

  it('trim serve --api-key-env <key> and the removed --api-key <key> do the same', async () => {
    const key = KEYS[2]!;
    const a = await trim(['serve', '--model', 'no-such-dir', '--api-key-env', key]);
    expect(a.code).toBe(2);
    expect(a.out).toContain('--api-key-env takes the NAME of an environment variable (like TRIM_SERVE_API_KEY)');
    expect(a.out).not.toContain(key.slice(3, 16));
    const b = await trim(['serve', '--model', 'no-such-dir', '--api-key', key]);
    expect(b.code).toBe(2);
    expect(b.out).toContain('--api-key is no longer accepted');
    expect(b.out).toContain('--api-key-env TRIM_SERVE_API_KEY');
    expect(b.out).not.toContain(key.slice(3, 16));
  });

  it('a real variable name is named when it is unset, so the user knows which one to set', async () => {
    const r = await trim(['serve', '--model', 'no-such-dir', '--api-key-env', 'TRIM_TEST_UNSET_SERVE_KEY']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('The environment variable TRIM_TEST_UNSET_SERVE_KEY (named by --api-key-env) is not set or empty.');
  });
});

/** An environment with a variable named like the key. */
function envNamedLike(key: string): Record<string, string> {
  return { [key]: 'value-of-a-variable-named-like-the-key' };
}
