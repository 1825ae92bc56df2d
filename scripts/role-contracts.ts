// Writes the roles' contract tables into the README (between its markers) and docs/contracts.md, from
// lib/contracts/ (the single source the suites check against). Run: npx tsx scripts/role-contracts.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { contractsDocument, ROLE_TABLE_END, ROLE_TABLE_START, roleTableMarkdown } from '../lib/contracts/docs.ts';

const readmeFile = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeFile, 'utf8');
const start = readme.indexOf(ROLE_TABLE_START);
const end = readme.indexOf(ROLE_TABLE_END);
if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${ROLE_TABLE_START} … ${ROLE_TABLE_END}`);
const table = [ROLE_TABLE_START, ...roleTableMarkdown(), ROLE_TABLE_END].join('\n');
writeFileSync(readmeFile, readme.slice(0, start) + table + readme.slice(end + ROLE_TABLE_END.length));

const doc = [
  '# The roles’ contracts',
  '',
  'Generated from `lib/contracts/` by `npx tsx scripts/role-contracts.ts`; do not edit by hand. Each role suite sends the',
  'pairwise cases of its frame space within every class (row) below, judges every case by its row, and names the',
  'dimension values that separate the cases that failed from those that did not. The tables show the defaults',
  "(`expect.reservedGroups: standard`; a router whose right side's MTU is smaller than its left side's).",
  '',
  ...contractsDocument(),
].join('\n');
writeFileSync(new URL('../docs/contracts.md', import.meta.url), doc);
console.log('wrote the role table in README.md and docs/contracts.md');
