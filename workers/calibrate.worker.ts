// Budget calibration runs the simulator for up to a few seconds (the POMDP solves tables per λ): off the
// page's thread, and out of its first download.
import * as Comlink from 'comlink';
import { calibrateForBudget } from '../src/app/budget.ts';

Comlink.expose({ calibrateForBudget });
