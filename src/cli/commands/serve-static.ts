import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseOptions, UsageError, type Command } from '../command.ts';
import { startStaticServer, type StaticServer } from '../static-server.ts';

const usage = `
trim serve-static [--dir dist] [--port 5173] [--host 127.0.0.1] [--mount /models/=DIR ...]

Serves a built page (vite build) as a static site and prints its URL. Stop with Ctrl+C.
Every file is sent with the page's Content-Security-Policy (including frame-ancestors 'none', which a
meta tag cannot carry), X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer; README.md,
"The page", lists the headers for other static hosts.
  --dir DIR          folder to serve at / (default: dist)
  --port N           port; when taken, the next free one is used (default: 5173; 0 picks any)
  --host HOST        address to listen on (default: 127.0.0.1, this machine only)
  --mount P=DIR      also serve DIR under the URL prefix P (repeatable)
`;

const PORT_TRIES = 20;

async function listen(dir: string, host: string, port: number, mounts: Record<string, string>): Promise<StaticServer> {
  for (let i = 0; ; i++) {
    try {
      return await startStaticServer({ dir, host, port: port === 0 ? 0 : port + i, mounts });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0 || i + 1 >= PORT_TRIES) throw err;
    }
  }
}

export const command: Command = {
  summary: 'Serve the built page (dist/) on localhost and print its URL',
  usage,
  async run(argv) {
    const values = parseOptions(argv, {
      dir: { type: 'string', default: 'dist' },
      port: { type: 'string', default: '5173' },
      host: { type: 'string', default: '127.0.0.1' },
      mount: { type: 'string', multiple: true, default: [] },
    });
    const dir = resolve(values.dir);
    if (!existsSync(resolve(dir, 'index.html'))) throw new UsageError(`${dir} has no index.html. Build the page first: npx vite build (or npm start).`);
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${values.port}: expected a port number from 0 to 65535.`);
    const mounts: Record<string, string> = {};
    for (const m of values.mount) {
      const [prefix, folder] = m.split('=', 2);
      if (!prefix?.startsWith('/') || !folder) throw new UsageError(`--mount ${m}: expected /prefix/=FOLDER.`);
      if (!existsSync(folder)) throw new UsageError(`--mount ${m}: ${folder} does not exist.`);
      mounts[prefix.endsWith('/') ? prefix : prefix + '/'] = resolve(folder);
    }
    const server = await listen(dir, values.host, port, mounts);
    process.stdout.write(`TRIM page: ${server.url}\n(serving ${dir}; Ctrl+C to stop)\n`);
    await new Promise<void>((done) => {
      const stop = () => void server.close().then(done);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
