// Example problems for the offline demo: the organism test set the page ships (public/organism), one
// JSON object per line with a "problem" string. Read as data, never as markup.

const MAX_EXAMPLE_CHARS = 2000;

export function parseExamples(jsonl: string): string[] {
  const out: string[] = [];
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    try {
      const p = (JSON.parse(line) as { problem?: unknown }).problem;
      if (typeof p === 'string' && p.trim() && p.length <= MAX_EXAMPLE_CHARS) out.push(p);
    } catch {
      // A broken line is skipped; the rest of the set is still usable.
    }
  }
  return out;
}

let cached: Promise<string[]> | null = null;

/** The example problems served beside the page (cached after the first fetch, offline too). */
export function loadExamples(url: string): Promise<string[]> {
  cached ??= fetch(url)
    .then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.text();
    })
    .then(parseExamples)
    .catch((err) => {
      cached = null;
      throw new Error(`The example problems could not be loaded from ${url} (${err instanceof Error ? err.message : String(err)}).`);
    });
  return cached;
}
