// A small declarative schema for lab profiles. One description per field serves three purposes:
// validation (every problem reported at once, with the field path and a fix), defaults, and the
// generated field reference in docs/profile-reference.md — so the docs cannot drift from the checks.

export type FieldCheck = (value: unknown) => string | null;

interface BaseSpec {
  doc: string;
  required?: boolean;
  /** Extra checks; each returns a problem description or null. */
  checks?: FieldCheck[];
  /** How to fix a bad value, if more specific than the generic advice. */
  fix?: string;
  example?: string;
}

export interface StringSpec extends BaseSpec {
  type: 'string';
  default?: string;
  enum?: readonly string[];
  pattern?: RegExp;
  patternName?: string;
}

export interface NumberSpec extends BaseSpec {
  type: 'number';
  default?: number;
  min?: number;
  max?: number;
  integer?: boolean;
}

export interface BooleanSpec extends BaseSpec {
  type: 'boolean';
  default?: boolean;
}

export interface ObjectSpec extends BaseSpec {
  type: 'object';
  fields: Record<string, FieldSpec>;
}

/** A YAML sequence whose every item follows `items` (a class list, a list of names). */
export interface ListSpec extends BaseSpec {
  type: 'list';
  items: FieldSpec;
  default?: readonly unknown[];
  maxItems?: number;
}

export type FieldSpec = StringSpec | NumberSpec | BooleanSpec | ObjectSpec | ListSpec;

export interface SchemaProblem {
  path: string;
  message: string;
  fix: string;
}

const describe = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v}"`;
  return String(v);
};

function typeName(spec: FieldSpec): string {
  if (spec.type === 'object') return 'a mapping';
  if (spec.type === 'string' && spec.enum) return `one of ${spec.enum.join(', ')}`;
  if (spec.type === 'list') return `a list, each item ${typeName(spec.items)}`;
  return `a ${spec.type}`;
}

/** Edit distance, to suggest the key the user probably meant. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = distance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/**
 * Validate `value` against `spec`, collecting every problem, and return the value with defaults
 * filled in (only meaningful when no problems were found).
 */
export function validate(spec: FieldSpec, value: unknown, path: string, problems: SchemaProblem[]): unknown {
  const fail = (message: string, fix?: string) =>
    problems.push({ path, message, fix: fix ?? spec.fix ?? `set it to ${typeName(spec)}${spec.example ? `, e.g. ${spec.example}` : ''}.` });

  if (value === undefined || value === null) {
    if ('default' in spec && spec.default !== undefined) return spec.default;
    // An optional section that is absent gets its defaults, unless it has required fields of its own
    // (then it is simply not there, and cross-field rules decide whether it had to be).
    if (spec.type === 'object' && !spec.required) return hasRequired(spec) ? undefined : validate(spec, {}, path, problems);
    if (spec.required)
      fail(
        `is missing; it is required (${spec.doc.split('.')[0]}).`,
        `add '${path}' — ${typeName(spec)}${spec.example ? `, e.g. ${spec.example}` : ''}.`,
      );
    return undefined;
  }

  switch (spec.type) {
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) {
        fail(
          `is ${describe(value)}, but must be a mapping of fields.`,
          `write it as a mapping with the fields ${Object.keys(spec.fields).join(', ')}.`,
        );
        return undefined;
      }
      const input = value as Record<string, unknown>;
      const known = Object.keys(spec.fields);
      for (const key of Object.keys(input)) {
        if (!(key in spec.fields)) {
          const guess = closest(key, known);
          problems.push({
            path: join(path, key),
            message: `is not a known field${path ? ` of '${path}'` : ''}.`,
            fix: guess
              ? `did you mean '${guess}'? Known fields: ${known.join(', ')}.`
              : `remove it; known fields here: ${known.join(', ')}.`,
          });
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, fieldSpec] of Object.entries(spec.fields)) {
        const v = validate(fieldSpec, input[key], join(path, key), problems);
        if (v !== undefined) out[key] = v;
      }
      runChecks(spec, out, path, problems);
      return out;
    }
    case 'string': {
      if (typeof value !== 'string') {
        fail(`is ${describe(value)}, but must be a string.`);
        return undefined;
      }
      if (spec.enum && !spec.enum.includes(value)) {
        const guess = closest(value, spec.enum);
        fail(
          `is ${describe(value)}, which is not allowed.`,
          `use one of ${spec.enum.join(', ')}${guess ? ` (did you mean '${guess}'?)` : ''}.`,
        );
        return undefined;
      }
      if (spec.pattern && !spec.pattern.test(value)) {
        fail(`is ${describe(value)}, which is not ${spec.patternName ?? `of the form ${spec.pattern}`}.`);
        return undefined;
      }
      return runChecks(spec, value, path, problems) ? value : undefined;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        fail(`is ${describe(value)}, but must be a number.`);
        return undefined;
      }
      if (spec.integer && !Number.isInteger(value)) fail(`is ${value}, but must be a whole number.`);
      else if (spec.min !== undefined && value < spec.min)
        fail(
          `is ${value}, below the minimum ${spec.min}.`,
          `use a value from ${spec.min}${spec.max !== undefined ? ` to ${spec.max}` : ' up'}.`,
        );
      else if (spec.max !== undefined && value > spec.max)
        fail(`is ${value}, above the maximum ${spec.max}.`, `use a value from ${spec.min ?? 0} to ${spec.max}.`);
      else return runChecks(spec, value, path, problems) ? value : undefined;
      return undefined;
    }
    case 'boolean': {
      if (typeof value !== 'boolean') {
        fail(`is ${describe(value)}, but must be true or false.`, 'write true or false (without quotes).');
        return undefined;
      }
      return value;
    }
    case 'list': {
      if (!Array.isArray(value)) {
        fail(`is ${describe(value)}, but must be a list.`, `write it as a YAML list, e.g. [${spec.example ?? '…'}].`);
        return undefined;
      }
      if (spec.maxItems !== undefined && value.length > spec.maxItems) {
        fail(`has ${value.length} items, more than the ${spec.maxItems} allowed.`, `keep at most ${spec.maxItems} items.`);
        return undefined;
      }
      const items = value.map((item, i) => validate(spec.items, item, `${path}[${i}]`, problems));
      return runChecks(spec, items, path, problems) ? items : undefined;
    }
  }
}

function hasRequired(spec: ObjectSpec): boolean {
  return Object.values(spec.fields).some((f) => f.required || (f.type === 'object' && hasRequired(f)));
}

/** Run the field's extra checks; false when one failed (the value is then treated as absent). */
function runChecks(spec: FieldSpec, value: unknown, path: string, problems: SchemaProblem[]): boolean {
  let ok = true;
  for (const check of spec.checks ?? []) {
    const message = check(value);
    if (message) {
      problems.push({ path, message, fix: spec.fix ?? `correct '${path}'.` });
      ok = false;
    }
  }
  return ok;
}

/** Markdown reference of every field, generated from the schema. */
export function renderReference(spec: ObjectSpec, path = ''): string[] {
  const lines: string[] = [];
  for (const [key, field] of Object.entries(spec.fields)) {
    const full = join(path, key);
    const facts: string[] = [typeName(field)];
    if (field.required) facts.push('required');
    if ('default' in field && field.default !== undefined)
      facts.push(`default \`${Array.isArray(field.default) ? JSON.stringify(field.default) : String(field.default)}\``);
    if (field.type === 'number' && (field.min !== undefined || field.max !== undefined))
      facts.push(`range ${field.min ?? '…'}–${field.max ?? '…'}`);
    if (field.example) facts.push(`e.g. \`${field.example}\``);
    lines.push(`- \`${full}\` (${facts.join('; ')}): ${field.doc}`);
    if (field.type === 'object') lines.push(...renderReference(field, full));
    if (field.type === 'list' && field.items.type === 'object') lines.push(...renderReference(field.items, `${full}[]`));
  }
  return lines;
}
