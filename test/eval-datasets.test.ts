import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MATH_SYSTEM_PROMPT, problemMessages } from '../src/core/prompt.ts';
import { DatasetError, loadDataset, parseDataset } from '../src/eval/datasets.ts';
import { BENCHMARK_SOURCES, DATA_DIR_VARIABLE, findDataDir, missingFiles } from './helpers/benchmark-data.ts';
import { REPO_ROOT } from './helpers/paths.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/datasets');
const fixture = (f: string) => join(FIXTURES, f);
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('each benchmark layout, on the project\'s own fixtures', () => {
  const plain: [file: string, format: string, records: number][] = [
    ['math500_test.jsonl', 'math', 3],
    ['aime24_test.jsonl', 'aime', 3],
    ['amc23_test.jsonl', 'amc', 5],
    ['minerva_math_test.jsonl', 'minerva', 2],
    ['olympiadbench_oe_to_maths_en_comp_test.jsonl', 'olympiad', 5],
    ['gsm8k_test.jsonl', 'gsm8k', 3],
  ];
  it.each(plain)('%s is detected as %s with one gradable problem per record', (file, format, records) => {
    const d = loadDataset(fixture(file));
    expect(d).toMatchObject({ format, records, total: records, skipped: [] });
    expect(d.problems).toHaveLength(records);
    for (const p of d.problems) expect(p.gold.answer).not.toMatch(/^\$|\$$/);
    expect(new Set(d.problems.map((p) => p.id)).size).toBe(records);
  });

  it('reads each layout\'s id, problem and gold answer from the right fields', () => {
    const math = loadDataset(fixture('math500_test.jsonl')).problems[0]!;
    expect(math).toMatchObject({ id: 'test/precalculus/1.json', gold: { answer: '\\left( 2, \\frac{\\pi}{2} \\right)' } });
    expect(math.problem).toMatch(/^Write the point \$\(0,2\)\$/);
    // Zero-padded AIME answers ("024", "077") are integers; the id is the record's own.
    expect(loadDataset(fixture('aime24_test.jsonl')).problems.map((p) => [p.id, p.gold.answer])).toEqual([
      ['7', '24'],
      ['8', '24'],
      ['9', '77'],
    ]);
    // AMC answers are JSON numbers: 40.0 is "40", 0.75 stays a decimal.
    const amc = loadDataset(fixture('amc23_test.jsonl')).problems;
    expect(amc.map((p) => p.gold.answer)).toEqual(['40', '27', '0.75', '6', '31']);
    expect(amc[0]!.id).toBe('0');
    // Minerva: the last \boxed{} of the solution, without the unit written after it; id from idx.
    expect(loadDataset(fixture('minerva_math_test.jsonl')).problems.map((p) => [p.id, p.gold.answer])).toEqual([
      ['0', '50'],
      ['1', '8'],
    ]);
    const gsm = loadDataset(fixture('gsm8k_test.jsonl')).problems;
    expect(gsm[0]).toMatchObject({ id: 'line-1', gold: { answer: '21' } });
    expect(gsm[0]!.problem).toMatch(/^Mia’s hens/);
    // "#### 1,450,000": thousands separators are formatting, not part of the number.
    expect(gsm[1]!.gold.answer).toBe('1450000');
  });

  it('keeps OlympiadBench\'s multiple answers, units, tolerance and context', () => {
    const o = new Map(loadDataset(fixture('olympiadbench_oe_to_maths_en_comp_test.jsonl')).problems.map((p) => [p.id, p]));
    expect(o.get('101')!.gold).toEqual({ answer: '1,4', multiple: true }); // ["$1$,$4$"]
    expect(o.get('102')!.gold).toEqual({ answer: '(1,2,4)', multiple: true });
    expect(o.get('103')!.gold).toEqual({ answer: '4.2', unit: '%', tolerance: 0.1 });
    expect(o.get('104')!.gold).toEqual({ answer: '\\frac{41}{12}', unit: 'km' });
    expect(o.get('105')!.problem).toBe('Let $x = 2$.\n\nWhat is $x + 1$?');
  });

  it('groups ProcessBench records by problem, takes the gold from a correct solution and counts the rest', () => {
    const d = loadDataset(fixture('processbench_gsm8k.jsonl'));
    expect(d).toMatchObject({ format: 'processbench', records: 6, total: 2 });
    // The first solution of each problem is wrong; the gold comes from the first labelled correct, the
    // id from the problem's first record.
    expect(d.problems.map((p) => [p.id, p.gold.answer])).toEqual([
      ['gsm8k-0', '60'],
      ['gsm8k-2', '21'],
    ]);
    expect(d.skipped).toEqual([
      { reason: 'no solution labelled correct', count: 1 },
      { reason: 'no solution labelled correct states its final answer explicitly', count: 1 },
    ]);
    // The golds agree with the GSM8K fixture, as ProcessBench's do with GSM8K's.
    const gsm = new Map(loadDataset(fixture('gsm8k_test.jsonl')).problems.map((p) => [p.problem, p.gold.answer]));
    for (const p of d.problems) expect(gsm.get(p.problem)).toBe(p.gold.answer);
  });

  it('applies --offset then --limit in file order', () => {
    const some = loadDataset(fixture('amc23_test.jsonl'), { offset: 1, limit: 2 });
    expect(some.total).toBe(5);
    expect(some.problems.map((p) => p.id)).toEqual(['1', '2']);
    expect(loadDataset(fixture('amc23_test.jsonl'), { offset: 4, limit: 10 }).problems).toHaveLength(1);
  });
});

const DATA = findDataDir();
const REAL_FILES = Object.keys(BENCHMARK_SOURCES);
const realMissing = missingFiles(DATA, REAL_FILES);
if (realMissing.length)
  console.warn(
    `real-data checks not run: ${DATA.dir ? `${DATA.dir} lacks ${realMissing.join(', ')}` : `no data folder at ${DATA.looked}`}; ` +
      `set ${DATA_DIR_VARIABLE} to the folder of the public benchmark files (src/eval/README.md, "Benchmark files").`,
  );

const data = (f: string) => join(DATA.dir!, f);
const rawLines = (f: string) => lines(data(f));

// Skipped only where the public benchmark files are absent (a clone without ../shared/data and without
// TRIM_DATA_DIR): they are kept out of the repository, and the warning above says so. CI gives them.
describe.skipIf(realMissing.length > 0)('every benchmark file in the data folder (TRIM_DATA_DIR)', () => {
  // Record counts are those of the project's copy (its README beside the files); ProcessBench holds 80% of each split.
  const plain: [file: string, format: string, records: number][] = [
    ['math500_test.jsonl', 'math', 500],
    ['aime24_test.jsonl', 'aime', 30],
    ['amc23_test.jsonl', 'amc', 40],
    ['minerva_math_test.jsonl', 'minerva', 272],
    ['olympiadbench_oe_to_maths_en_comp_test.jsonl', 'olympiad', 675],
    ['gsm8k_test.jsonl', 'gsm8k', 1319],
  ];
  it.each(plain)('%s is detected as %s with one gradable problem per record', (file, format, records) => {
    const d = loadDataset(data(file));
    expect(d.format).toBe(format);
    expect(d.records).toBe(records);
    expect(d.total).toBe(records);
    expect(d.problems).toHaveLength(records);
    expect(d.skipped).toEqual([]);
    for (const p of d.problems) {
      expect(p.problem.trim().length).toBeGreaterThan(10);
      expect(p.gold.answer.trim().length).toBeGreaterThan(0);
      expect(p.gold.answer).not.toMatch(/^\$|\$$/);
    }
    expect(new Set(d.problems.map((p) => p.id)).size).toBe(records);
  });

  it('reads each benchmark\'s problem and gold answer from the right fields', () => {
    const math = loadDataset(data('math500_test.jsonl')).problems[0]!;
    expect(math.id).toBe('test/precalculus/807.json');
    expect(math.problem).toMatch(/^Convert the point \$\(0,3\)\$ in rectangular coordinates/);
    expect(math.gold.answer).toBe('\\left( 3, \\frac{\\pi}{2} \\right)');

    const aime = loadDataset(data('aime24_test.jsonl')).problems;
    expect(aime[0]).toMatchObject({ id: '60', gold: { answer: '204' } });
    // Zero-padded answers ("025") are integers.
    const padded = rawLines('aime24_test.jsonl').filter((r) => /^0\d/.test(String(r.answer)));
    expect(padded.length).toBeGreaterThan(0);
    for (const r of padded) expect(aime.find((p) => p.id === String(r.id))!.gold.answer).toBe(String(Number(r.answer)));

    const amc = loadDataset(data('amc23_test.jsonl')).problems[0]!;
    expect(amc).toMatchObject({ id: '0', gold: { answer: '27' } }); // 27.0 in the file
    expect(amc.problem).toMatch(/^Cities \$A\$ and \$B\$ are \$45\$ miles apart/);

    const minerva = loadDataset(data('minerva_math_test.jsonl')).problems[0]!;
    expect(minerva).toMatchObject({ id: '0', gold: { answer: '1.6' } }); // \boxed{1.6} \mathrm{~cm}

    const gsm = loadDataset(data('gsm8k_test.jsonl')).problems;
    expect(gsm[0]).toMatchObject({ id: 'line-1', gold: { answer: '18' } });
    expect(gsm[0]!.problem).toMatch(/^Janet’s ducks lay 16 eggs per day/);
    // "#### 1,450,000": thousands separators are formatting, not part of the number.
    expect(gsm.some((p) => p.gold.answer === '1450000')).toBe(true);
    expect(gsm.every((p) => !p.gold.answer.includes(','))).toBe(true);
  });

  it('keeps OlympiadBench\'s multiple answers, units and tolerance', () => {
    const o = new Map(loadDataset(data('olympiadbench_oe_to_maths_en_comp_test.jsonl')).problems.map((p) => [p.id, p]));
    expect(o.get('1664')!.gold).toEqual({ answer: '69,84', multiple: true }); // ["$69$,$84$"]
    expect(o.get('1618')!.gold).toMatchObject({ answer: '(1,8,19), (2,7,13), (4,5,7)', multiple: true });
    expect(o.get('2592')!.gold).toEqual({ answer: '4.2', unit: '%', tolerance: 0.1 });
    expect(o.get('2334')!.gold).toEqual({ answer: '\\frac{41}{12}', unit: 'km' });
    const multiple = rawLines('olympiadbench_oe_to_maths_en_comp_test.jsonl').filter((r) => r.is_multiple_answer === true).length;
    expect([...o.values()].filter((p) => p.gold.multiple).length).toBe(multiple); // 94 in the README
    expect(multiple).toBe(94);
  });

  const processbench: [file: string, records: number][] = [
    ['processbench_gsm8k.jsonl', 320],
    ['processbench_math.jsonl', 800],
    ['processbench_olympiadbench.jsonl', 800],
    ['processbench_omnimath.jsonl', 800],
  ];
  it.each(processbench)('%s gives one problem per distinct problem with a gold from a correct solution', (file, records) => {
    const raw = rawLines(file);
    const d = loadDataset(data(file));
    expect(d.format).toBe('processbench');
    expect(d.records).toBe(records);
    const distinct = new Set(raw.map((r) => r.problem));
    const withCorrect = new Set(raw.filter((r) => r.final_answer_correct === true).map((r) => r.problem));
    const skipped = d.skipped.reduce((s, x) => s + x.count, 0);
    expect(d.total + skipped).toBe(distinct.size);
    expect(d.total).toBeLessThanOrEqual(withCorrect.size);
    // Most correct solutions box their answer, so most such problems are gradable.
    expect(d.total).toBeGreaterThan(0.8 * withCorrect.size);
    for (const p of d.problems) {
      expect(withCorrect.has(p.problem)).toBe(true);
      // The id is that of the problem's first record.
      expect(raw.find((r) => r.problem === p.problem)!.id).toBe(p.id);
    }
  });

  it('derives ProcessBench golds that agree with GSM8K where the problems overlap', () => {
    const gsm = new Map(loadDataset(data('gsm8k_test.jsonl')).problems.map((p) => [p.problem.trim(), p.gold.answer]));
    const pb = loadDataset(data('processbench_gsm8k.jsonl')).problems;
    let same = 0;
    for (const p of pb) {
      const g = gsm.get(p.problem.trim());
      expect(g).toBeDefined(); // all ProcessBench GSM8K problems are GSM8K test problems
      if (Number(p.gold.answer.replace(/[^0-9.-]/g, '')) === Number(g)) same++;
    }
    expect(same).toBeGreaterThan(0.95 * pb.length);
  });

  it('differ from the fixtures: the fixtures are the project\'s own records, not copies', () => {
    for (const f of ['math500_test.jsonl', 'aime24_test.jsonl', 'amc23_test.jsonl', 'minerva_math_test.jsonl',
      'olympiadbench_oe_to_maths_en_comp_test.jsonl', 'gsm8k_test.jsonl', 'processbench_gsm8k.jsonl']) {
      const real = new Set(rawLines(f).map((r) => String(r.problem ?? r.question)));
      for (const r of lines(fixture(f))) expect(real.has(String(r.problem ?? r.question))).toBe(false);
    }
  });

  it('applies --offset then --limit in file order', () => {
    const all = loadDataset(data('amc23_test.jsonl')).problems;
    const some = loadDataset(data('amc23_test.jsonl'), { offset: 5, limit: 3 });
    expect(some.total).toBe(40);
    expect(some.problems.map((p) => p.id)).toEqual(all.slice(5, 8).map((p) => p.id));
    expect(loadDataset(data('amc23_test.jsonl'), { offset: 39, limit: 10 }).problems).toHaveLength(1);
  });
});

describe('parseDataset on small inputs', () => {
  it('detects layouts by their fields and accepts a JSON array', () => {
    expect(parseDataset('{"question":"1+1?","answer":"2"}', 'x.jsonl').format).toBe('math');
    expect(parseDataset('[{"problem":"1+1?","answer":2.0}]', 'x.json').problems[0]!.gold.answer).toBe('2');
    expect(parseDataset('{"problem":"p","answer":"007","url":"https://x/AIME"}', 'x.jsonl').problems[0]!.gold.answer).toBe('7');
    // Outside AIME a digit string is kept as written.
    expect(parseDataset('{"problem":"p","answer":"007"}', 'x.jsonl').problems[0]!.gold.answer).toBe('007');
  });

  it('honours an explicit --format and refuses an unknown one', () => {
    const d = parseDataset('{"problem":"p","answer":"025"}\n', 'x.jsonl', { format: 'aime' });
    expect(d.problems[0]!.gold.answer).toBe('25');
    expect(() => parseDataset('{"problem":"p","answer":"1"}', 'x.jsonl', { format: 'nope' })).toThrow(/Unknown data format "nope"/);
  });

  it('names the file and line of a bad record', () => {
    expect(() => parseDataset('{"problem":"p","answer":"1"}\n{oops\n', 'd.jsonl')).toThrow(/d\.jsonl line 2 is not valid JSON/);
    expect(() => parseDataset('{"problem":"p","answer":"1"}\n{"problem":"q","answer":""}\n', 'd.jsonl')).toThrow(
      /d\.jsonl line 2: the "answer" field/,
    );
    expect(() => parseDataset('{"foo":1}', 'd.jsonl')).toThrow(/Cannot tell the format of d\.jsonl/);
    expect(() => parseDataset('\n\n', 'd.jsonl')).toThrow(DatasetError);
    expect(() => parseDataset('[1,2]', 'd.json')).toThrow(/line 1 is not a JSON object/);
  });

  it('recognises common field names of other files', () => {
    const one = (line: string) => {
      const d = parseDataset(line, 'x.jsonl');
      return [d.format, d.problems[0]!.problem, d.problems[0]!.gold.answer];
    };
    expect(one('{"prompt":"1+1?","target":"2"}')).toEqual(['fields', '1+1?', '2']);
    expect(one('{"input":"1+2?","Answer":3}')).toEqual(['fields', '1+2?', '3']);
    expect(one('{"Problem":"2+2?","final_answer":"$4$"}')).toEqual(['fields', '2+2?', '4']);
    expect(one('{"question":"x?","expected_answer":"\\\\frac{1}{2}"}')).toEqual(['fields', 'x?', '\\frac{1}{2}']);
    // Chat messages: the last user turn is the problem.
    expect(one('{"prompt":[{"role":"system","content":"s"},{"role":"user","content":"3+3?"}],"ground_truth":"6"}')).toEqual(['fields', '3+3?', '6']);
  });

  it('reads the fields named by --problem-field and --answer-field', () => {
    const d = parseDataset(
      '{"q":"Tom has 2+2 apples.","work":"2+2 = 4\\n#### 4"}\n{"q":"Half of 1?","work":"It is \\\\boxed{\\\\frac{1}{2}}."}\n',
      'x.jsonl',
      { problemField: 'q', answerField: 'work' },
    );
    expect(d.format).toBe('fields');
    expect(d.problems.map((p) => p.gold.answer)).toEqual(['4', '\\frac{1}{2}']);
    // One flag is enough; a dotted name reaches into an object.
    const nested = parseDataset('{"problem":"p?","reward_model":{"ground_truth":"5"}}', 'x.jsonl', { answerField: 'reward_model.ground_truth' });
    expect(nested.problems[0]!.gold.answer).toBe('5');
    expect(() => parseDataset('{"q":"p","a":"1"}', 'x.jsonl', { problemField: 'q' })).toThrow(
      /line 1 has no answer field \(answer, Answer, .*\); its fields are q, a\. Name it with --answer-field/,
    );
    expect(() => parseDataset('{"q":"p","a":"1"}', 'x.jsonl', { problemField: 'q', answerField: 'a', format: 'gsm8k' })).toThrow(/drop --format gsm8k/);
    expect(() => parseDataset('{"q":"p","a":"1"}\n{"q":"r"}\n', 'x.jsonl', { problemField: 'q', answerField: 'a' })).toThrow(
      /x\.jsonl line 2: the "a" field must be a gold answer/,
    );
  });

  it('lists the fields it found when no layout and no common name fits', () => {
    expect(() => parseDataset('{"task":"p","reference":"1"}', 'd.jsonl')).toThrow(
      /first record has the fields task, reference, and none is a problem field .* Name the fields with --problem-field and --answer-field/,
    );
  });

  it('drops the reference instruction a file appends to each problem, since the system turn gives it', () => {
    const text = JSON.stringify({ problem: 'What is 1+1?\n\nPlease reason step by step, and put your final answer within \\boxed{}.', answer: '2' });
    expect(parseDataset(text, 'x.jsonl').problems[0]!.problem).toBe('What is 1+1?');
    // Only a trailing copy: the words inside a problem stay.
    const inside = JSON.stringify({ problem: 'Please reason step by step, and put your final answer within \\boxed{}. Then say why.', answer: '2' });
    expect(parseDataset(inside, 'x.jsonl').problems[0]!.problem).toMatch(/Then say why\.$/);
    // `trim solve --problem` text goes through the prompt, which drops it the same way.
    expect(problemMessages(`What is 1+1? ${MATH_SYSTEM_PROMPT}`)[1]).toEqual({ role: 'user', content: 'What is 1+1?' });
    expect(problemMessages(`What is 1+1? ${MATH_SYSTEM_PROMPT}`, 'Answer briefly.')[1]!.content).toMatch(/boxed\{\}\.$/);
  });

  it('refuses duplicate ids, since results are keyed by id', () => {
    const text = '{"id":1,"problem":"p","answer":"1"}\n{"id":1,"problem":"q","answer":"2"}\n';
    expect(() => parseDataset(text, 'd.jsonl')).toThrow(/share the id "1"/);
  });
});
