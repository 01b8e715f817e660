// `trim serve`: an OpenAI-compatible server over local model folders (transformers.js in Node), so a
// "remote" strong model or PRM can be a real server running a real model, on this machine.

import { basename } from 'node:path';
import { tjsPrm } from '../../backends/tjs-prm.ts';
import { prmHead, type PrmHead } from '../../backends/prm-layout.ts';
import { loadTjs, TJS_DTYPES, type TjsDtype } from '../../backends/tjs-runtime.ts';
import { QWEN_PRM_SEPARATOR } from '../../backends/vllm-prm.ts';
import { checkCorsList, isLoopbackName } from '../../serve/access.ts';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_UPLOADS } from '../../serve/body.ts';
import { promptBound } from '../../serve/prompt-bound.ts';
import { createTrimServer } from '../../serve/server.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { keyFromEnv } from '../key-env.ts';

const usage = `
Usage: trim serve --model DIR [--prm DIR] [--port N] [--host 127.0.0.1] [options]

Serves model folders (the transformers.js layout that "trim convert" and "trim build-model" write)
over HTTP, speaking OpenAI's and vLLM's wire format:
  GET  /v1/models
  POST /v1/completions         raw prompt; stop, max_tokens, temperature/top_p/top_k/seed, n, SSE
  POST /v1/chat/completions    the folder's chat template; add_generation_prompt, continue_final_message
  POST /pooling                PRM (--prm): {model, messages}, the assistant message holding the steps
                               each followed by <extra_0>; answers one [p_neg, p_pos] per step
Requests are served one at a time in arrival order; concurrent ones wait their turn. A prompt that
cannot fit in the model's context (max_position_embeddings) is refused from its length in characters,
before tokenising: context × the longest token of the vocabulary (×4 when the tokenizer normalizes).

  --model DIR            language model folder (at least one of --model and --prm)
  --prm DIR              PRM folder (head from its config.json, or --prm-head)
  --prm-head H           two-class | value | lm-tag
  --prm-separator S      what ends each step in /pooling messages (default ${QWEN_PRM_SEPARATOR})
  --served-model-name N  the language model's name in requests (default: the folder's name)
  --prm-name N           the PRM's name (default: its folder's name)
  --dtype D              weights to load: ${TJS_DTYPES.join(', ')} (default: the folder's own)
  --port N               default 8000; 0 picks a free port
  --host H               default 127.0.0.1 (this machine only); 0.0.0.0 or :: for every interface
  --api-key-env VAR      require "Authorization: Bearer <key>", the key read from the variable VAR
                         (default: TRIM_SERVE_API_KEY when it is set, else no key)
  --cors ORIGIN          also answer web pages from ORIGIN (https://app.example:8443; repeat or
                         comma-separate; * for every origin). Default: pages on this machine only
                         (http(s)://localhost, 127.x.x.x, [::1], any port); others get 403
  --allowed-hosts NAME   also accept requests addressed to NAME (the Host header; repeat or comma-
                         separate; * for any). Always accepted: localhost, 127.x.x.x, [::1], and with
                         --host ADDR that address (with 0.0.0.0 or ::, any IP address). Others get 403,
                         which stops DNS-rebinding pages
  --max-body BYTES       largest request body (default ${DEFAULT_MAX_BODY_BYTES}); larger ones get 413
  --max-uploads N        request bodies read at once before new ones get 503 (default ${DEFAULT_MAX_UPLOADS})
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

/** The PRM and its context bound, from one load of the folder (the bound needs its tokenizer). */
async function loadPrm(dir: string, dtype: TjsDtype | undefined, head: PrmHead | undefined) {
  const loaded = await loadTjs({ model: dir, ...(dtype ? { dtype } : {}) });
  try {
    const scorer = await tjsPrm(loaded, head ? { head } : {});
    return { scorer, bound: promptBound(loaded.tokenizer, loaded.maxPositions) };
  } catch (err) {
    await loaded.model.dispose();
    throw err;
  }
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
      'api-key-env': { type: 'string' },
      cors: { type: 'string', multiple: true },
      'allowed-hosts': { type: 'string', multiple: true },
      'max-body': { type: 'string' },
      'max-uploads': { type: 'string' },
      'max-queue': { type: 'string' },
      quiet: { type: 'boolean' },
    });
    // Kept as a flag only to explain: a key on the command line is in every user's process list.
    if (values['api-key'] !== undefined)
      throw new UsageError('--api-key is no longer accepted: a key on the command line shows in the process list. Put it in an environment variable and name it: --api-key-env TRIM_SERVE_API_KEY.');
    if (!values.model && !values.prm) throw new UsageError('Give --model DIR, --prm DIR, or both.');
    const dtype = values.dtype as TjsDtype | undefined;
    if (dtype !== undefined && !(TJS_DTYPES as readonly string[]).includes(dtype)) throw new UsageError(`--dtype ${dtype}: expected one of ${TJS_DTYPES.join(', ')}.`);
    const port = intFlag(values.port, 'port', 0, 65535, 8000);
    const maxQueue = intFlag(values['max-queue'], 'max-queue', 1, 1_000_000, 1024);
    const maxBodyBytes = intFlag(values['max-body'], 'max-body', 1024, 2 ** 30, DEFAULT_MAX_BODY_BYTES);
    const maxUploads = intFlag(values['max-uploads'], 'max-uploads', 1, 10_000, DEFAULT_MAX_UPLOADS);
    const list = (v: string[] | undefined) => (v ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
    const cors = list(values.cors);
    const badOrigin = checkCorsList(cors);
    if (badOrigin !== null) throw new UsageError(`--cors ${badOrigin}: expected an origin like https://app.example or http://localhost:5173 (scheme, host, optional port; no path), or *.`);
    const allowedHosts = list(values['allowed-hosts']);
    const host = values.host ?? '127.0.0.1';
    if (values['prm-separator'] === '') throw new UsageError('--prm-separator must not be empty.');
    const head = values['prm-head'] === undefined ? undefined : prmHead(values['prm-head']);
    const apiKey =
      values['api-key-env'] !== undefined
        ? keyFromEnv(process.env, values['api-key-env'], '--api-key-env', 'TRIM_SERVE_API_KEY')
        : process.env.TRIM_SERVE_API_KEY?.trim() || undefined;
    const folderName = (dir: string) => basename(dir.replace(/[\\/]+$/, '')) || dir;

    const lm = values.model
      ? { name: values['served-model-name'] ?? folderName(values.model), loaded: await loadTjs({ model: values.model, ...(dtype ? { dtype } : {}) }, 'causal-lm') }
      : undefined;
    const prm = values.prm ? await loadPrm(values.prm, dtype, head) : undefined;
    const prmServed = prm && {
      name: values['prm-name'] ?? folderName(values.prm!),
      scorer: prm.scorer,
      separator: values['prm-separator'] ?? QWEN_PRM_SEPARATOR,
      bound: prm.bound,
    };
    if (lm && prmServed && lm.name === prmServed.name) throw new UsageError(`The model and the PRM are both named "${lm.name}"; give one --served-model-name or --prm-name.`);

    const server = createTrimServer({
      ...(lm ? { lm } : {}),
      ...(prmServed ? { prm: prmServed } : {}),
      maxQueue,
      maxBodyBytes,
      maxUploads,
      cors,
      allowedHosts,
      ...(apiKey ? { apiKey } : {}),
      ...(values.quiet ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
    });
    const url = await server.listen(port, host);
    const names = [lm && `model "${lm.name}"`, prmServed && `PRM "${prmServed.name}" (${prmServed.scorer.head})`].filter(Boolean).join(', ');
    process.stdout.write(`listening on ${url} serving ${names}\n`);
    if (!apiKey && !isLoopbackName(host))
      process.stderr.write(`trim serve: listening on ${host} without a key: anyone who can reach this machine can use the models. Set one with --api-key-env VAR.\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
  },
};
