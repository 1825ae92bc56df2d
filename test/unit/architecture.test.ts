// The layout of lib/ as lib/README.md draws it: which folder may import which, the pure folders free
// of lab, SSH and process code, no import cycles, and every folder named in the README.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const LIB = path.resolve('lib');

/** Folder (or pure file) → the folders it may import besides itself. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: [],
  frames: ['core'],
  pcap: ['core'],
  analysis: ['core', 'frames'],
  report: ['core', 'analysis'],
  'rfc2544/search.ts': ['core', 'analysis'],
  'rfc2544/config.ts': ['core', 'rfc2544/search.ts'],
  'rfc2544/report.ts': ['core', 'analysis', 'report', 'rfc2544/search.ts'],
  'rfc2889/report.ts': ['core', 'analysis', 'report', 'rfc2544/search.ts', 'rfc2544/report.ts'],
  'rfc2889/trials.ts': ['core', 'analysis', 'frames', 'traffic', 'lab', 'rfc2544/search.ts', 'rfc2544/trials.ts'],
  'rfc2544/trials.ts': ['core', 'analysis', 'report', 'rfc2544/search.ts', 'frames', 'traffic', 'lab'],
  runtime: ['core'],
  images: ['core', 'runtime'],
  policy: ['core', 'frames', 'analysis'],
  contracts: ['core', 'frames', 'analysis'],
  profile: ['core', 'images', 'analysis', 'policy', 'contracts', 'rfc2544/config.ts'],
  lab: ['core', 'runtime', 'images', 'profile', 'lab/nested', 'lab/bench-host'],
  'lab/nested': ['core', 'runtime', 'images', 'profile', 'lab'],
  'lab/bench-host': ['core', 'runtime', 'images', 'profile', 'lab'],
  'lab/sim-bench': ['core', 'runtime', 'images'],
  traffic: ['core', 'frames', 'pcap', 'analysis', 'policy', 'contracts', 'runtime', 'lab'],
  cli: ['*'],
};

const PURE = [
  'core',
  'frames',
  'pcap',
  'analysis',
  'policy',
  'contracts',
  'report',
  'rfc2544/search.ts',
  'rfc2544/config.ts',
  'rfc2544/report.ts',
  'rfc2889/report.ts',
];
const IMPURE_PACKAGES = ['node:child_process', 'child_process', 'execa', 'ssh2', 'testcontainers', 'node:net', 'node:dgram'];

function libFiles(dir = LIB): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return libFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** The rule key of a file: its pure-file entry, or the deepest folder with a rule. */
function unitOf(file: string): string {
  const rel = path.relative(LIB, file);
  if (MAY_IMPORT[rel]) return rel;
  const parts = path.dirname(rel).split(path.sep);
  for (let n = parts.length; n > 0; n--) {
    const key = parts.slice(0, n).join('/');
    if (MAY_IMPORT[key]) return key;
  }
  throw new Error(`${rel} is in no folder that lib/README.md names`);
}

interface Import {
  from: string;
  spec: string;
  /** The imported file, for relative imports. */
  target?: string;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.map((spec) => ({ from: file, spec, ...(spec.startsWith('.') ? { target: path.resolve(path.dirname(file), spec) } : {}) }));
}

const files = libFiles();
const imports = files.flatMap(importsOf);

describe('lib/ layout', () => {
  it('every file belongs to a folder of the map', () => {
    for (const f of files) expect(() => unitOf(f)).not.toThrow();
  });

  it('every import follows the map of lib/README.md', () => {
    const offences: string[] = [];
    for (const i of imports) {
      if (!i.target) continue;
      expect(i.target.startsWith(LIB), `${path.relative(LIB, i.from)} imports ${i.spec}, outside lib/`).toBe(true);
      const from = unitOf(i.from);
      const to = unitOf(i.target);
      const allowed = MAY_IMPORT[from]!;
      if (from !== to && !allowed.includes('*') && !allowed.includes(to))
        offences.push(`${path.relative(LIB, i.from)} (${from}) imports ${i.spec} (${to})`);
    }
    expect(offences).toEqual([]);
  });

  it('the pure folders import nothing of the lab, SSH or processes', () => {
    const offences = imports
      .filter((i) => PURE.includes(unitOf(i.from)))
      .filter((i) => IMPURE_PACKAGES.includes(i.spec) || (i.target !== undefined && !PURE.includes(unitOf(i.target))))
      .map((i) => `${path.relative(LIB, i.from)} imports ${i.spec}`);
    expect(offences).toEqual([]);
  });

  it('has no import cycles', () => {
    const graph = new Map(files.map((f) => [f, imports.filter((i) => i.from === f && i.target).map((i) => i.target!)]));
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, trail: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(LIB, x)).join(' → '));
        return;
      }
      state.set(f, 'visiting');
      for (const next of graph.get(f) ?? []) visit(next, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('lib/README.md names every folder', () => {
    const readme = readFileSync(path.join(LIB, 'README.md'), 'utf8');
    const folders = [...new Set(files.map((f) => path.relative(LIB, path.dirname(f))).filter((d) => d !== ''))];
    for (const folder of folders) expect(readme, `lib/README.md does not name ${folder}/`).toContain(`\`${folder}/\``);
  });

  it('every module opens with a comment that says what it is for', () => {
    const silent = files.filter((f) => !readFileSync(f, 'utf8').startsWith('//')).map((f) => path.relative(LIB, f));
    expect(silent).toEqual([]);
  });
});
