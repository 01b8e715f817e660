import { describe, expect, it } from 'vitest';
import { parseExamples } from '../src/app/examples.ts';
import { MAX_TEX_CHARS, splitMath } from '../src/app/math-segments.ts';

const kinds = (s: string) => splitMath(s).map((x) => (x.kind === 'text' ? `T:${x.text}` : `${x.display ? 'D' : 'M'}:${x.tex}`));

describe('splitMath', () => {
  it('finds every delimiter style and keeps the text between them', () => {
    expect(kinds('So $x+1=2$, hence \\(x=1\\) and \\[x^2=1\\] and $$y$$.')).toEqual([
      'T:So ',
      'M:x+1=2',
      'T:, hence ',
      'M:x=1',
      'T: and ',
      'D:x^2=1',
      'T: and ',
      'D:y',
      'T:.',
    ]);
  });

  it('renders a bare \\boxed{} with nested braces as math', () => {
    expect(kinds('The answer is \\boxed{\\frac{1}{2}}.')).toEqual(['T:The answer is ', 'M:\\boxed{\\frac{1}{2}}', 'T:.']);
  });

  it('takes math environments whole', () => {
    expect(kinds('\\begin{align}a&=b\\\\c&=d\\end{align} ok')).toEqual(['D:\\begin{align}a&=b\\\\c&=d\\end{align}', 'T: ok']);
  });

  it('leaves currency, escaped dollars and unclosed delimiters as text', () => {
    expect(kinds('It costs $5 and $10.')).toEqual(['T:It costs $5 and $10.']);
    expect(kinds('Pay \\$3 now')).toEqual(['T:Pay $3 now']);
    expect(kinds('open \\( never closed')).toEqual(['T:open \\( never closed']);
    expect(kinds('a $ b $ c')).toEqual(['T:a $ b $ c']);
  });

  it('keeps HTML in text segments as text (it is inserted with textContent)', () => {
    const s = splitMath('<img src=x onerror=alert(1)> and <script>alert(2)</script> $\\href{javascript:alert(3)}{x}$');
    expect(s[0]).toEqual({ kind: 'text', text: '<img src=x onerror=alert(1)> and <script>alert(2)</script> ' });
    expect(s[1]).toEqual({ kind: 'math', tex: '\\href{javascript:alert(3)}{x}', display: false });
  });

  it('shows over-long TeX as text instead of handing it to KaTeX', () => {
    const long = '$' + 'x+'.repeat(MAX_TEX_CHARS) + '1$';
    expect(splitMath(long)).toEqual([{ kind: 'text', text: long }]);
  });

  it('does not let a $ span a blank line (two steps)', () => {
    expect(kinds('cost $a\n\nb$')).toEqual(['T:cost $a\n\nb$']);
  });
});

describe('example problems', () => {
  it('reads the problem of every good line and skips the rest', () => {
    const jsonl = ['{"id":"a","problem":"Start with 5, then 1) +3."}', 'not json', '{"problem":42}', '', `{"problem":"${'x'.repeat(3000)}"}`, '{"problem":"<img src=x>"}'].join('\n');
    expect(parseExamples(jsonl)).toEqual(['Start with 5, then 1) +3.', '<img src=x>']);
  });
});
