// Browser tests of the built page: build it once per test file, serve it (and fixture models) from a
// loopback static server, and drive Debian's Chromium through playwright-core.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build, type PluginOption } from 'vite';
import { SIZE_REPORT, type SizeReport } from '../../src/app/build/vite-plugins.ts';
import { startStaticServer, type StaticServer } from '../../src/cli/static-server.ts';
import { REPO_ROOT } from './paths.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const BASE_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

/** Builds the page into a fresh folder and returns it with the size report the build printed. */
export async function buildPage(): Promise<{ dir: string; report: SizeReport; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'trim-page-'));
  // Vitest sets NODE_ENV=test, which would make Vite build a non-production page (no service worker).
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ root: REPO_ROOT, configFile: resolve(REPO_ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  const report = (globalThis as Record<symbol, unknown>)[SIZE_REPORT] as SizeReport | undefined;
  if (!report) throw new Error('the build did not report its sizes');
  return { dir, report, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Builds the page into `dir` as another release of it would come out: another public folder, extra
 * plugins (one that changes the code, say). For tests of the service worker's update path.
 */
export async function buildPageInto(dir: string, overrides: { publicDir?: string; plugins?: PluginOption[] } = {}): Promise<void> {
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      root: REPO_ROOT,
      configFile: resolve(REPO_ROOT, 'vite.config.ts'),
      logLevel: 'warn',
      publicDir: overrides.publicDir,
      plugins: overrides.plugins,
      build: { outDir: dir, emptyOutDir: true },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
}

export interface Browser {
  context: BrowserContext;
  /** The profile folder (its path is on every Chromium process's command line). */
  profile: string;
  close(): Promise<void>;
}

/** A fresh Chromium profile; `webgpu` adds --enable-unsafe-webgpu (without it requestAdapter() gives null). */
export async function launch(opts: { webgpu: boolean }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'trim-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_FLAGS, ...(opts.webgpu ? ['--enable-unsafe-webgpu'] : [])],
    viewport: { width: 1280, height: 1000 },
  });
  // Every wait without its own limit (selectors, run ends, dialogs) gets a generous one: SwiftShader and
  // WASM are slow, and CI runs these beside other jobs on two cores. Waits are on DOM state, never on time.
  context.setDefaultTimeout(90_000);
  return {
    context,
    profile,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface PageProbe {
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  /** Every dialog (alert/confirm/prompt) a script opened: hostile output must never open one. */
  dialogs: string[];
}

export async function openPage(context: BrowserContext, url: string): Promise<PageProbe> {
  const page = await context.newPage();
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, errors, dialogs };
}

export async function servePage(dir: string, mounts: Record<string, string>): Promise<StaticServer> {
  return startStaticServer({ dir, mounts });
}

/** Waits until the run is over (the Solve button is enabled again). */
export async function waitForRunEnd(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(() => !(document.getElementById('solve-button') as HTMLButtonElement).disabled && document.getElementById('steps') !== null, null, { timeout });
}
