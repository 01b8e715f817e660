import { describe, expect, it } from 'vitest';
import { isEquivalent, type EquivalenceOptions } from '../src/core/grade/index.ts';

type Case = [pred: string, gold: string, expected: boolean, opts?: EquivalenceOptions];

function table(name: string, cases: Case[]) {
  describe(name, () => {
    it.each(cases)('%s vs %s → %s', (pred, gold, expected, opts) => {
      expect(isEquivalent(pred, gold, opts)).toBe(expected);
    });
  });
}

table('integers, commas, decimals', [
  ['1,000', '1000', true],
  ['1{,}000', '1000', true],
  ['\\$32,\\!348', '\\$32,\\!348', true],
  ['32348', '\\$32,\\!348', true],
  ['12,441,600', '12441600', true],
  ['x = 58,500', '58,500', true],
  ['10001', '10000', false],
  ['12.0', '12', true],
  ['12.4', '12', false],
  ['.0000672', '0.0000672', true],
  ['-5', '5', false],
  ['+5', '5', true],
  ['025', '25', true],
  ['9999999999999999999999', '9999999999999999999998', false],
]);

table('fractions, mixed numbers, percent, scientific notation', [
  ['0.5', '\\frac{1}{2}', true],
  ['\\dfrac{1}{2}', '1/2', true],
  ['\\tfrac12', '0.5', true],
  ['\\frac{-3}{4}', '-\\frac{3}{4}', true],
  ['-0.75', '\\frac{-3}{4}', true],
  ['2/4', '\\frac{1}{2}', true],
  ['\\frac{1156}{4913}', '\\frac{4}{17}', true],
  ['\\frac{3}{4}', '\\frac{4}{3}', false],
  ['2\\frac{1}{2}', '\\frac{5}{2}', true],
  ['2 1/2', '2.5', true],
  ['1\\frac{9}{10}', '\\frac{19}{10}', true],
  ['50\\%', '50', true],
  ['50\\%', '0.5', true],
  ['0.5', '50\\%', true],
  ['17.5', '17.5%', true],
  ['50', '0.5', false],
  ['1.5\\times10^{3}', '1500', true],
  ['1.5e3', '1500', true],
  ['3 \\cdot 10^{-2}', '0.03', true],
  ['2.5\\times 10^{4}', '2500', false],
  ['0.\\overline{3}', '\\frac{1}{3}', true],
  ['1.2\\overline{45}', '\\frac{137}{110}', true],
]);

const ROUND_2 = { problem: 'Give x correct to two decimal places.' };
const ROUND_3 = { problem: 'Round your answer to three decimal places.' };

table('rounding and tolerance', [
  // Exact unless the problem asks for a rounded value.
  ['0.333', '\\frac{1}{3}', false],
  ['1.414', '\\sqrt{2}', false],
  ['3.14', '\\pi', false],
  ['1.6794', '1.68', false],
  ['0.3', '\\frac{1}{3}', false],
  ['0.\\overline{3}', '0.3', false],
  ['0.333', '\\frac{1}{3}', true, ROUND_3],
  ['0.334', '\\frac{1}{3}', false, ROUND_3],
  ['1.414', '\\sqrt{2}', true, ROUND_3],
  ['1.415', '\\sqrt{2}', false, ROUND_3],
  ['3.14', '\\pi', true, ROUND_2],
  ['1.6794', '1.68', true, ROUND_2],
  ['1.6749', '1.68', false, ROUND_2],
  ['1.7', '1.68', false, ROUND_2],
  ['\\sqrt{2}', '1.41', true, { problem: 'Round to the nearest hundredth.' }],
  ['\\sqrt{2}', '1.41', false],
  ['12.4', '12', false, { problem: 'Round to the nearest integer.' }],
  // Tolerance is absolute and inclusive (OlympiadBench's error field).
  ['4.1', '4.2', false],
  ['4.1', '4.2', true, { tolerance: 0.1 }],
  ['4.0', '4.2', false, { tolerance: 0.1 }],
  ['4.2\\%', '4.2', true, { tolerance: 0.1 }],
  ['\\frac{21}{5}', '4.2', true],
  ['\\sqrt{17}', '4.12', true, { tolerance: 0.01 }],
]);

table('radicals, π and expressions', [
  ['\\frac{\\sqrt{3}}{2}', '\\frac{1}{2}\\sqrt{3}', true],
  ['2\\sqrt{3}', '\\sqrt{12}', true],
  ['\\frac{1}{\\sqrt{2}}', '\\frac{\\sqrt{2}}{2}', true],
  ['\\sqrt2', '\\sqrt{2}', true],
  ['2\\pi+18', '18+2\\pi', true],
  ['\\sqrt{2}', '\\sqrt{3}', false],
  ['5\\sqrt[3]{4}', '\\sqrt[3]{500}', true],
  ['3\\sqrt{2}-2', '3-\\sqrt{2}', false],
  ['x^2+2x+1', '(x+1)^2', true],
  ['x^2+1', '(x+1)^2', false],
  ['n \\cdot 2', '2n', true],
  ['\\frac{n^2+n}{2}', '\\frac{n(n+1)}{2}', true],
  ['-q+p', 'p - q', true],
  ['\\frac{1}{\\sin x \\cos x} - \\tan x', '\\cot x', true],
  ['\\frac{\\pi}{6}+k\\pi', '\\frac{1}{6} \\pi+\\pi k', true],
  ['\\lfloor \\frac{n}{2} \\rfloor', '\\left\\lfloor\\frac{n}{2}\\right\\rfloor', true],
  ['\\lfloor \\frac{n}{2} \\rfloor', '\\lfloor \\frac{n}{3} \\rfloor', false],
  ['\\frac{d!}{2(d-k)!k}', '\\frac{d !}{2 k(d-k) !}', true],
  ['2^{100}', '1267650600228229401496703205376', true],
]);

table('x = 5 against 5, equations', [
  ['x = 5', '5', true],
  ['5', 'x=5', true],
  ['x = 6', '5', false],
  ['-2x', 'y = -2x', true],
  ['k=3', '3', true],
  ['4 \\times 5 = 20', '20', true],
  ['f(x) = 1 + x', 'f(x)=x+1', true],
  ['f(n) = n', 'f(z)=z', true],
  ['y = 2x - 3', '2x - y = 3', true],
  ['x^2+y^2=14', 'x^2+y^2=13', false],
  ['13', 'x^2+y^2=13', false],
]);

table('text, units, degrees, dollars', [
  ['East', '\\text{east}', true],
  ['\\text{Evelyn}', 'Evelyn', true],
  ['\\text{Evelyn}', '\\text{Bob}', false],
  ['5\\text{ cm}', '5', true],
  ['5 \\mathrm{cm}^2', '5', true],
  ['75 square units', '75', true],
  ['12 tomatoes', '12', true],
  ['90^\\circ', '90', true],
  ['90°', '90^{\\circ}', true],
  ['\\frac{\\pi}{4}', '45^\\circ', true],
  ['\\$5.00', '5', true],
  ['5 dollars', '\\$5', true],
  ['2n', '2', false],
  ['52_8', '52_8', true],
]);

table('intervals and brackets', [
  ['(1,2]', '(1,2)', false],
  ['[1,2]', '(1,2)', false],
  ['[1, 2]', '[1,2]', true],
  ['\\left(-\\sqrt{3}, \\sqrt{3}\\right)', '(-\\sqrt{3}, \\sqrt{3})', true],
  ['(-\\infty, 5)', '(-\\infty,5)', true],
  ['x > 3', '(3,\\infty)', true],
  ['x \\geq 3', '[3, \\infty)', true],
  ['-1 \\le x < 2', '[-1, 2)', true],
  ['x \\in [1,2]', '[1,2]', true],
  ['(2,\\infty)\\cup(-\\infty,1)', '(-\\infty,1) \\cup (2, \\infty)', true],
  ['(-\\infty,1) \\cup (3, \\infty)', '(-\\infty,1) \\cup (2, \\infty)', false],
  ['k \\geq 2', 'k \\geqslant 2', true],
  ['2', 'k \\geqslant 2', false],
]);

table('tuples and coordinates', [
  ['(1, 2)', '(1,2)', true],
  ['(2, 1)', '(1,2)', false],
  ['(1,4.5)', '(1,\\frac{9}{2})', true],
  ['3, 4', '(3,4)', true],
  ['(3,4,5)', '(3,4)', false],
  ['(x, y) = (1000, 10)', '(1000,10)', true],
  ['(8,-2) \\text{ units}', '(8,-2)', true],
]);

table('lists of answers', [
  ['-2, 1', '1,-2', true],
  ['-2, 1', '1,-2', false, { allowReorder: false }],
  ['-2, 1', '1,-2', false, { problem: 'Enter the solutions in increasing order, separated by commas.' }],
  ['1, -2', '1,-2', true, { allowReorder: false }],
  ['1+\\sqrt{19}, 1-\\sqrt{19}', '1 \\pm \\sqrt{19}', true],
  ['1+\\sqrt{19}', '1 \\pm \\sqrt{19}', false],
  ['\\pm 1, \\pm 7', '1,-1,7,-7', true],
  ['1+x+1, 1-x-1', '1 \\pm (x+1)', true],
  ['x+2, -x', '1 \\pm (x+1)', true],
  ['x+2, 2-x', '1 \\pm (x+1)', false],
  ['x = 1, x = 2', '1, 2', true],
  ['2 and 4', '2, 4', true],
  ['\\{2, 1\\}', '\\{1, 2\\}', true],
  ['(3,4),(1,2)', '(1,2),(3,4)', true],
  ['-2', '-2,-2', false],
  ['1, 2, 3', '1, 2', false],
  [`(${Array.from({ length: 70 }, (_, i) => i).join(',')})`, `(${Array.from({ length: 70 }, (_, i) => (i < 65 ? i : 0)).join(',')})`, false],
  ['a=2, a=-6-4\\sqrt{2}', '$a=2$, $a=-6-4 \\sqrt{2}$', true],
  ['\\frac{\\pi}{6} + k\\pi, \\frac{5\\pi}{6} + k\\pi \\text{ for } k \\in \\mathbb{Z}', 'x=\\frac{1}{6} \\pi+\\pi k, \\frac{5}{6} \\pi+\\pi k', true],
]);

table('matrices', [
  ['\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}', true],
  ['\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}', false],
  ['\\begin{pmatrix} 1 & 2 & 3 & 4 \\end{pmatrix}', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}', false],
  [
    '\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\\\ \\frac{5}{3} \\end{pmatrix}',
    '\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}',
    true,
  ],
  ['(-1/3, 2/3, 5/3)', '\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}', true],
  ['(-1/3, 5/3, 2/3)', '\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}', false],
]);

const OPTIONS_PROBLEM =
  'Find the shape described by the equation z = c.\n(A) Line\n(B) Circle\n(C) Plane\n(D) Sphere\n(E) Cylinder\n(F) Cone\n\nEnter the letter of the correct option.';

table('multiple-choice letters', [
  ['C', '\\text{(C)}', true],
  ['(C)', '\\text{(C)}', true],
  ['\\textbf{(C) } Plane', '\\text{(C)}', true],
  ['B', '\\text{(C)}', false],
  ['\\text{Plane}', '\\text{(C)}', true, { problem: OPTIONS_PROBLEM }],
  ['Sphere', '\\text{(C)}', false, { problem: OPTIONS_PROBLEM }],
  ['\\text{Plane}', '\\text{(C)}', false],
]);

describe('inputs that are not answers', () => {
  it('is false for empty or non-string input, never throws', () => {
    expect(isEquivalent('', '5')).toBe(false);
    expect(isEquivalent('5', '')).toBe(false);
    expect(isEquivalent(undefined as unknown as string, '5')).toBe(false);
    expect(isEquivalent(5 as unknown as string, '5')).toBe(false);
  });
});
