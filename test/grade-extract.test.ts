import { describe, expect, it } from 'vitest';
import { extractAnswer, grade, lastBoxed } from '../src/core/grade/index.ts';

describe('lastBoxed', () => {
  it('takes the last box, with nested braces', () => {
    expect(lastBoxed('first \\boxed{1}, then \\boxed{\\frac{1}{2}}.')).toBe('\\frac{1}{2}');
    expect(lastBoxed('\\boxed{\\left\\{ 1, 2 \\right\\}}')).toBe('\\left\\{ 1, 2 \\right\\}');
  });
  it('reads \\fbox, "\\boxed 5" and the innermost of nested boxes', () => {
    expect(lastBoxed('so \\fbox{7}')).toBe('7');
    expect(lastBoxed('so $\\boxed 5$.')).toBe('5');
    expect(lastBoxed('\\boxed{\\boxed{5}}')).toBe('5');
  });
  it('is null without a closed box', () => {
    expect(lastBoxed('no box here')).toBeNull();
    expect(lastBoxed('\\boxed{unclosed')).toBeNull();
    expect(lastBoxed('\\boxedness')).toBeNull();
  });
});

describe('extractAnswer', () => {
  it('prefers the last box and says so', () => {
    expect(extractAnswer('The answer is 3.\n\nSo \\(\\boxed{4}\\).')).toEqual({ answer: '4', how: 'boxed' });
  });
  it('joins different boxes of the final paragraph into one answer', () => {
    const text = 'Earlier \\boxed{9}.\n\nThe values are \\(\\boxed{3}\\) and \\(\\boxed{4}\\), respectively.';
    expect(extractAnswer(text)).toEqual({ answer: '3, 4', how: 'boxed' });
    expect(extractAnswer('Thus \\boxed{7} and again \\boxed{7}.')?.answer).toBe('7');
    // An empty box is not an answer; a box holding a box is its inner answer.
    expect(extractAnswer('\\boxed{} so \\boxed{6}')?.answer).toBe('6');
    expect(extractAnswer('\\boxed{180 - 90 = \\boxed{90}}')?.answer).toBe('90');
  });
  it('reads "the answer is" and "Final Answer:" forms', () => {
    expect(extractAnswer('So the answer is 18.')).toEqual({ answer: '18', how: 'answer-is' });
    expect(extractAnswer('Final Answer: The final answer is $16\\pi$. I hope it is correct.')?.answer).toBe('16\\pi');
    expect(extractAnswer('**Answer:** Verna received $7.00 in change.')?.answer).toBe('7.00');
    expect(extractAnswer('The final answer is \\((2, 3\\sqrt{5})\\). I hope it is correct.')?.answer).toBe('(2, 3\\sqrt{5})');
  });
  it('reads a GSM8K "####" line', () => {
    expect(extractAnswer('She pays 5 + 13 = <<5+13=18>>18 dollars.\n#### 1,018')).toEqual({ answer: '1,018', how: 'gsm8k' });
    expect(extractAnswer('#### -3.5\nThat is all.')?.answer).toBe('-3.5');
    // A markdown heading is not an answer line.
    expect(extractAnswer('#### Step 1: Count the 12 eggs in each of the boxes we were given')?.how).not.toBe('gsm8k');
  });
  it('takes a bare answer as it is', () => {
    expect(extractAnswer('x = 5')).toEqual({ answer: 'x = 5', how: 'raw' });
    expect(extractAnswer('$\\frac{1}{2}$')?.how).toBe('raw');
    expect(extractAnswer('Evelyn')).toEqual({ answer: 'Evelyn', how: 'raw' });
  });
  it('reads the value of a concluding sentence, unless told to stay explicit', () => {
    const text = 'The base is 6 and the height is 16.\n\nTherefore, the area of \\(\\triangle DEF\\) is \\(48\\) square units.';
    expect(extractAnswer(text)).toEqual({ answer: '48', how: 'conclusion' });
    expect(extractAnswer(text, { fallbacks: 'explicit' })).toBeNull();
    expect(extractAnswer('Adding up, we find 34 hours in total. So, Charisma spends 34 hours in 4 weeks.')?.answer).toBe('34');
    expect(extractAnswer('So, Josh made a profit of $195,000.')?.answer).toBe('195,000');
    expect(extractAnswer('Therefore, the answer to the question is **yes**, such a subset \\(X\\) exists.')?.answer).toBe('yes');
    expect(extractAnswer('Therefore, **the least value** is \\(5\\) here.')?.answer).toBe('5');
    expect(extractAnswer('So the number of rows is **6**. This completes the argument.')?.answer).toBe('6');
    expect(
      extractAnswer('Thus, the integer values of \\(x\\) that satisfy the given inequality are \\(-1, 0,\\) and \\(1\\).')?.answer,
    ).toBe('-1, 0, 1');
    expect(extractAnswer('Summary of Solutions:\n- \\( d(6) = \\frac{1}{3} \\)\n- \\( d(16) = 1 \\)\n- \\( d(72) = \\frac{1}{9} \\)')?.answer).toBe(
      'd(6) = \\frac{1}{3}, d(16) = 1, d(72) = \\frac{1}{9}',
    );
    expect(extractAnswer('Using both relations \\[ a = b \\] Therefore, $\\cos \\angle RPS = -\\frac{24}{25}$.')?.answer).toBe(
      '\\cos \\angle RPS = -\\frac{24}{25}',
    );
  });
  it('reports when nothing is found', () => {
    expect(extractAnswer('We could not finish this problem in the time we had, sorry about that.')).toBeNull();
    expect(extractAnswer('')).toBeNull();
    expect(extractAnswer(42 as unknown as string)).toBeNull();
  });
});

describe('grade', () => {
  it('extracts then compares, and reports what it read', () => {
    expect(grade('So \\(\\boxed{\\dfrac{1}{2}}\\).', '0.5')).toEqual({ correct: true, extracted: '\\dfrac{1}{2}', how: 'boxed' });
    expect(grade('So \\(\\boxed{3}\\).', '0.5')).toEqual({ correct: false, extracted: '3', how: 'boxed' });
    expect(grade('I give up here without finishing the computation at all.', '5')).toEqual({
      correct: false,
      extracted: null,
      how: null,
    });
  });
  it('passes the equivalence options through', () => {
    expect(grade('\\boxed{4.1}', '4.2', { tolerance: 0.1 }).correct).toBe(true);
    expect(grade('\\boxed{2, 1}', '1, 2', { allowReorder: false }).correct).toBe(false);
  });
});
