// Final-answer grading for math solutions: what the rest of the project imports.

export { lastBoxed } from './boxed.ts';
export { extractAnswer, type ExtractedAnswer, type ExtractionMethod, type ExtractOptions } from './extract.ts';
export { isEquivalent, type EquivalenceOptions } from './equivalent.ts';
export { grade, type GradeOptions, type GradeResult } from './grade.ts';
