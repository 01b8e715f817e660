import { TrimError } from '../core/errors.ts';

/** Text that is not an organism problem or record (hand-edited data, another data set, model output). */
export class OrganismFormatError extends TrimError {}
