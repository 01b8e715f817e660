// `trim serve`: an OpenAI-compatible server over local model folders (transformers.js in Node), so a
// "remote" strong model or PRM can be a real server running a real model, on this machine.

import { basename } from 'node:path';
import { loadTjsPrm } from '../../backends/tjs-prm.ts';
import { prmHead } from '../../backends/prm-layout.ts';
import { loadTjs, TJS_DTYPES, type TjsDtype } from '../../backends/tjs-runtime.ts';
import { QWEN_PRM_SEPARATOR } from '../../backends/vllm-prm.ts';
import { createTrimServer } from '../../serve/server.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';

const usage = `
Usage: trim serve --model DIR [--prm DIR] [--port N] [--host 127.0.0.1] [options]

Serves model folders (the transformers.js layout that "trim convert" and "trim build-model" write)
over HTTP, speaking OpenAI's and vLLM's wire format:
  GET  /v1/models
  POST /v1/completions         raw prompt; stop, max_tokens, temperature/top_p/top_k/seed, n, SSE
  POST /v1/chat/completions    the folder's chat template; add_generation_prompt, continue_final_message
  POST /pooling                PRM (--prm): {model, messages}, the assistant message holding the steps
                               each followed by <extra_0>; answers one [p_neg, p_pos] per step
Requests are served one at a time in arrival order; concurrent ones wait their turn.

  --model DIR            language model folder (at least one of --model and --prm)
  --prm DIR              PRM folder (head from its config.json, or --prm-head)
  --prm-head H           two-class | value | lm-tag
  --prm-separator S      what ends each step in /pooling messages (default ${QWEN_PRM_SEPARATOR})
  --served-model-name N  the language model's name in requests (default: the folder's name)
  --prm-name N           the PRM's name (default: its folder's name)
  --dtype D              weights to load: ${TJS_DTYPES.join(', ')} (default: the folder's own)
  --port N               default 8000; 0 picks a free port
  --host H               default 127.0.0.1 (this machine only)
  --api-key KEY          require "Authorization: Bearer KEY" (default: the TRIM_SERVE_API_KEY variable, or none)
  --max-queue N          requests that may wait before new ones get 503 (default 1024)
  --quiet                no request log on stderr

Prints "listening on http://HOST:PORT" once it accepts requests; stops on Ctrl-C (SIGINT) or SIGTERM.
`;

function intFlag(v: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`--${flag} ${v}: expected a whole number from ${min} to ${max}.`);
  return n;
}

export const command: Command = {
  summary: 'Serve model folders over an OpenAI-compatible API (completions, chat, vLLM /pooling for a PRM)',
  usage,
  async run(argv) {
    const values = parseOptions(argv, {
      model: { type: 'string' },
      prm: { type: 'string' },
      'prm-head': { type: 'string' },
      'prm-separator': { type: 'string' },
      'served-model-name': { type: 'string' },
      'prm-name': { type: 'string' },
      dtype: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      'max-queue': { type: 'string' },
      quiet: { type: 'boolean' },
    });
    if (!values.model && !values.prm) throw new UsageError('Give --model DIR, --prm DIR, or both.');
    const dtype = values.dtype as TjsDtype | undefined;
    if (dtype !== undefined && !(TJS_DTYPES as readonly string[]).includes(dtype)) throw new UsageError(`--dtype ${dtype}: expected one of ${TJS_DTYPES.join(', ')}.`);
    const port = intFlag(values.port, 'port', 0, 65535, 8000);
    const maxQueue = intFlag(values['max-queue'], 'max-queue', 1, 1_000_000, 1024);
    const host = values.host ?? '127.0.0.1';
    if (values['prm-separator'] === '') throw new UsageError('--prm-separator must not be empty.');
    const head = values['prm-head'] === undefined ? undefined : prmHead(values['prm-head']);
    const apiKey = values['api-key'] ?? process.env.TRIM_SERVE_API_KEY;
    const folderName = (dir: string) => basename(dir.replace(/[\\/]+$/, '')) || dir;

    const lm = values.model
      ? { name: values['served-model-name'] ?? folderName(values.model), loaded: await loadTjs({ model: values.model, ...(dtype ? { dtype } : {}) }, 'causal-lm') }
      : undefined;
    const prm = values.prm
      ? {
          name: values['prm-name'] ?? folderName(values.prm),
          scorer: await loadTjsPrm({ model: values.prm, ...(dtype ? { dtype } : {}), ...(head ? { head } : {}) }),
          separator: values['prm-separator'] ?? QWEN_PRM_SEPARATOR,
        }
      : undefined;
    if (lm && prm && lm.name === prm.name) throw new UsageError(`The model and the PRM are both named "${lm.name}"; give one --served-model-name or --prm-name.`);

    const server = createTrimServer({
      ...(lm ? { lm } : {}),
      ...(prm ? { prm } : {}),
      maxQueue,
      ...(apiKey ? { apiKey } : {}),
      ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
    });
    const url = await server.listen(port, host);
    const names = [lm && `model "${lm.name}"`, prm && `PRM "${prm.name}" (${prm.scorer.head})`].filter(Boolean).join(', ');
    process.stdout.write(`listening on ${url} serving ${names}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
  },
};
