// `trim convert`: a Hugging Face qwen2 safetensors checkpoint → a transformers.js model folder.

import { convertCheckpoint } from '../../onnx/convert.ts';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { formatWritten, outputFlagOptions, outputFlagsUsage, parseOutputFlags } from '../model-build-flags.ts';

const usage = `
Usage: trim convert --checkpoint DIR --out DIR --head lm|value|two-class [--quantize q4 [--skip-fp32]]
  [--external-data auto|always|never] [--force]

Converts a qwen2 checkpoint folder (config.json, model.safetensors or shards with
model.safetensors.index.json, tokenizer.json, tokenizer_config.json; weights F32, F16 or BF16) into the
folder transformers.js loads. Tokenizer files are copied as they are. Tensors are read one at a time, so
memory stays near the size of the largest tensor.

  --checkpoint DIR      the downloaded checkpoint folder
${outputFlagsUsage}
Examples (each writes a browser-ready folder):
  trim convert --checkpoint ~/hf/Skywork-o1-Open-PRM-Qwen-2.5-1.5B --head value \\
    --quantize q4 --skip-fp32 --out public/models/skywork-prm-1.5b
  trim convert --checkpoint ~/hf/Qwen2.5-Math-PRM-7B --head two-class \\
    --quantize q4 --skip-fp32 --out public/models/qwen2.5-math-prm-7b
`;

export const command: Command = {
  summary: 'Convert a Hugging Face qwen2 safetensors checkpoint (LM or PRM) into a transformers.js folder',
  usage,
  async run(argv) {
    const values = parseOptions(argv, { ...outputFlagOptions, checkpoint: { type: 'string' } });
    if (!values.checkpoint) throw new UsageError('--checkpoint DIR is required: the Hugging Face checkpoint folder to convert.');
    const o = parseOutputFlags(values);
    const started = Date.now();
    const written = await convertCheckpoint({
      checkpoint: values.checkpoint,
      outDir: o.out,
      head: o.head,
      precisions: o.precisions,
      externalData: o.externalData,
      overwrite: o.overwrite,
      onProgress: (m) => process.stderr.write(`${m}\n`),
    });
    process.stdout.write(`${formatWritten(written)}\n(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  },
};
