// `trim <command>`: each command is one file in ./commands exporting `command`; adding a command is
// adding a file. Errors become one clear line on stderr and a non-zero exit.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TrimError, errorMessage } from '../core/errors.ts';
import { UsageError, type Command } from './command.ts';

const commandsDir = fileURLToPath(new URL('./commands/', import.meta.url));

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<Command | null> {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !commandNames().includes(name)) return null;
  return ((await import(`./commands/${name}.ts`)) as { command: Command }).command;
}

async function help(): Promise<string> {
  const lines = ['Usage: trim <command> [options]   (trim <command> --help for details)', '', 'Commands:'];
  for (const name of commandNames()) {
    const c = await load(name);
    if (c) lines.push(`  ${name.padEnd(18)} ${c.summary}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write((await help()) + '\n');
    return name ? 0 : 2;
  }
  const cmd = await load(name);
  if (!cmd) {
    process.stderr.write(`trim: unknown command "${name}". Run "trim --help" for the list.\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.usage.trim() + '\n');
    return 0;
  }
  try {
    return (await cmd.run(rest)) ?? 0;
  } catch (err) {
    const msg = errorMessage(err).split('\n')[0];
    process.stderr.write(`trim ${name}: ${msg}\n`);
    if (err instanceof UsageError) return 2;
    if (!(err instanceof TrimError) && process.env.TRIM_DEBUG) console.error(err);
    return 1;
  }
}
