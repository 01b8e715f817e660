// Pathological model outputs for the grader, shared by the hostile-input tests (no crash, right verdict)
// and the grader benchmark (how long each takes).

export interface HostileCase {
  name: string;
  pred: string;
  gold: string;
  /** The verdict a careful grader gives. */
  correct: boolean;
}

/** Deterministic printable garbage. */
function garbage(n: number): string {
  let s = '';
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += String.fromCharCode(32 + (x % 95));
  }
  return s;
}

const list = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(', ');

export const HOSTILE_CASES: HostileCase[] = [
  { name: '10k characters of garbage', pred: garbage(10_000), gold: '5', correct: false },
  { name: '10k unclosed boxes', pred: '\\boxed{'.repeat(10_000), gold: '5', correct: false },
  { name: '100k opening braces', pred: '{'.repeat(100_000), gold: '5', correct: false },
  { name: '100k closing braces then a box', pred: '}'.repeat(100_000) + '\\boxed{5}', gold: '5', correct: true },
  { name: '5k nested fractions', pred: `\\boxed{${'\\frac{'.repeat(5000)}1${'}'.repeat(5000)}}`, gold: '1', correct: false },
  { name: '3k nested parentheses', pred: `\\boxed{${'('.repeat(3000)}2${')'.repeat(3000)}}`, gold: '2', correct: false },
  { name: '3k nested \\text', pred: `\\boxed{${'\\text{'.repeat(3000)}a${'}'.repeat(3000)}}`, gold: 'a', correct: false },
  { name: '10k dollar signs', pred: '$'.repeat(10_000), gold: '5', correct: false },
  { name: '5k unclosed \\(', pred: '\\('.repeat(5000), gold: '5', correct: false },
  { name: '20k boxes', pred: '\\boxed{1} '.repeat(20_000), gold: '1', correct: true },
  { name: '"the answer is" 10k times', pred: 'the answer is '.repeat(10_000), gold: '5', correct: false },
  { name: '\\href and \\input', pred: '\\boxed{\\href{http://127.0.0.1/x}{5}\\input{/etc/passwd}}', gold: '5', correct: false },
  { name: 'power tower', pred: '\\boxed{9^{9^{9^{9}}}}', gold: '1', correct: false },
  { name: 'huge exponent', pred: '\\boxed{1e999999}', gold: '1e999998', correct: false },
  { name: 'sum to 10^9', pred: '\\boxed{\\sum_{i=1}^{10^{9}} i}', gold: '5', correct: false },
  { name: 'factorial of a million', pred: '\\boxed{(10^{6})!}', gold: '5', correct: false },
  { name: '5000-digit number', pred: `\\boxed{${'9'.repeat(5000)}}`, gold: '9'.repeat(4999) + '8', correct: false },
  { name: '5000-item list', pred: `\\boxed{${'1,'.repeat(5000)}}`, gold: '1, 1', correct: false },
  { name: '64 radicals in reverse order', pred: `\\boxed{${list(64, (i) => `\\sqrt{${i + 2}}`)}}`, gold: list(64, (i) => `\\sqrt{${65 - i}}`), correct: true },
  { name: '2000-cell matrix', pred: `\\boxed{\\begin{pmatrix}${'1&'.repeat(2000)}1\\end{pmatrix}}`, gold: '5', correct: false },
  { name: '3k chained equals', pred: `\\boxed{${'x='.repeat(3000)}5}`, gold: '5', correct: false },
  { name: '3k chained inequalities', pred: `\\boxed{${'x<'.repeat(3000)}5}`, gold: '5', correct: false },
  { name: '3k repeated units', pred: `\\boxed{5 ${'mm '.repeat(3000)}}`, gold: '5', correct: false },
  { name: 'NUL and emoji', pred: '\\boxed{\u0000😀}', gold: '0', correct: false },
];
