// Readiness honesty, for every role, on a lab of its own (`wirelab run readiness`): a guest's ready
// line is a claim; right after it a probe finds when frames really cross. The role suites make the
// same check on their own boot (fixtures/qualification.ts).
import { describe } from '../fixtures/lab.ts';
import { readinessTest } from '../fixtures/qualification.ts';

describe('readiness', () => {
  readinessTest();
});
