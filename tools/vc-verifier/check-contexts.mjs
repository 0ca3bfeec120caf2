#!/usr/bin/env node
// Checks that the contexts our Python signer bundles (services/certification/contexts/, see its manifest.json) are
// exactly the ones the npm packages publish, which the independent verifier loads (loader.mjs). The verifier itself
// never reads that folder.
// Prints one JSON line {"ok": bool, "checked": [...], "mismatches": [...]}; exit code 0 when all match.

import {readFileSync} from 'node:fs';
import {dirname, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import {STANDARD_CONTEXTS} from './loader.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const contextsDir = resolve(here, '..', '..', 'services', 'certification', 'contexts');
const manifest = JSON.parse(readFileSync(resolve(contextsDir, 'manifest.json'), 'utf8'));

function sorted(value) {
  if(Array.isArray(value)) {
    return value.map(sorted);
  }
  if(value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map(key => [key, sorted(value[key])]));
  }
  return value;
}

const checked = [];
const mismatches = [];
for(const [url, file] of Object.entries(manifest)) {
  const published = STANDARD_CONTEXTS.get(url);
  const bundled = JSON.parse(readFileSync(resolve(contextsDir, file), 'utf8'));
  if(published === undefined) {
    mismatches.push(`${url}: not one of the standard contexts the verifier knows`);
  } else if(JSON.stringify(sorted(published)) !== JSON.stringify(sorted(bundled))) {
    mismatches.push(`${url}: ${file} differs from the published context`);
  }
  checked.push(url);
}
process.stdout.write(JSON.stringify({ok: mismatches.length === 0, checked, mismatches}) + '\n');
process.exitCode = mismatches.length === 0 ? 0 : 1;
