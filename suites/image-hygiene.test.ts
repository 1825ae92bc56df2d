// Image hygiene, for every role, on a lab of its own (`wirelab run image-hygiene`): the image forwards
// with NIC MACs it has never seen and halts on the ACPI power button. The role suites make the same
// checks on their own boot (fixtures/qualification.ts).
import { describe } from '../fixtures/lab.ts';
import { hygieneTests } from '../fixtures/qualification.ts';

describe('image hygiene', () => {
  hygieneTests();
});
