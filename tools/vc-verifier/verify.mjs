#!/usr/bin/env node
// Independent verifier harness: verifies a credential with Digital Bazaar's widely used libraries
// (@digitalbazaar/vc verifyCredential + DataIntegrityProof + eddsa-rdfc-2022), entirely offline:
// - JSON-LD contexts come only from services/certification/contexts/manifest.json (the files our Python signer uses);
// - did:key is resolved from the identifier itself; did:web only from DID documents given with --did-document.
// Any other URL is refused, so a credential that needs the network does not verify.
//
// Usage: node verify.mjs [credential.json] [--did-document did.json ...] [--now 2026-01-01T00:00:00Z]
//        (reads the credential from stdin when no file is given)
// Prints one JSON line {"verified": bool, "errors": [...], "endorsements": [...]}; exit code 0 when the credential
// and every endorsement in its `endorsement` list verify, 1 otherwise.

import {readFileSync} from 'node:fs';
import {dirname, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {driver as didKeyDriver} from '@digitalbazaar/did-method-key';

const here = dirname(fileURLToPath(import.meta.url));
const contextsDir = resolve(here, '..', '..', 'services', 'certification', 'contexts');

function parseArguments(argv) {
  const options = {file: null, didDocuments: [], now: undefined};
  for(let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if(argument === '--did-document') {
      options.didDocuments.push(argv[++i]);
    } else if(argument === '--now') {
      options.now = argv[++i];
    } else if(argument === '--help' || argument === '-h') {
      process.stdout.write(
        'usage: node verify.mjs [credential.json] [--did-document did.json ...] [--now ISO-8601]\n');
      process.exit(0);
    } else if(options.file === null) {
      options.file = argument;
    } else {
      throw new Error(`unexpected argument ${argument}`);
    }
  }
  return options;
}

function bundledContexts() {
  const manifest = JSON.parse(readFileSync(resolve(contextsDir, 'manifest.json'), 'utf8'));
  const contexts = new Map();
  for(const [url, file] of Object.entries(manifest)) {
    contexts.set(url, JSON.parse(readFileSync(resolve(contextsDir, file), 'utf8')));
  }
  return contexts;
}

function makeDocumentLoader(didDocuments) {
  const contexts = bundledContexts();
  const didKey = didKeyDriver();
  didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  const dids = new Map(didDocuments.map(document => [document.id, document]));

  return async function documentLoader(url) {
    if(contexts.has(url)) {
      return {contextUrl: null, documentUrl: url, document: structuredClone(contexts.get(url))};
    }
    if(url.startsWith('did:key:')) {
      return {contextUrl: null, documentUrl: url, document: await didKey.get({url})};
    }
    const [did, fragment] = url.split('#');
    if(dids.has(did)) {
      const didDocument = dids.get(did);
      if(fragment === undefined) {
        return {contextUrl: null, documentUrl: url, document: didDocument};
      }
      const method = (didDocument.verificationMethod || []).find(
        entry => entry.id === url || `${did}${entry.id}` === url);
      if(method) {
        return {
          contextUrl: null,
          documentUrl: url,
          document: {'@context': didDocument['@context'], ...method}
        };
      }
    }
    throw new Error(`${url} is not bundled and this verifier never uses the network`);
  };
}

function messages(error, seen = new Set()) {
  if(!error || seen.has(error)) {
    return [];
  }
  seen.add(error);
  const found = [];
  if(Array.isArray(error.errors) && error.errors.length > 0) {
    for(const inner of error.errors) {
      found.push(...messages(inner, seen));
    }
  } else if(error.message) {
    found.push(error.message);
  } else {
    found.push(String(error));
  }
  return found;
}

function errorsOf(result) {
  const errors = [...messages(result.error)];
  for(const entry of result.results || []) {
    if(!entry.verified) {
      errors.push(...messages(entry.error));
    }
  }
  if(result.statusResult && !result.statusResult.verified) {
    errors.push(...messages(result.statusResult.error));
  }
  if(!result.verified && errors.length === 0) {
    errors.push('not verified (no reason given by the library)');
  }
  return [...new Set(errors)];
}

async function verifyOne(credential, {documentLoader, now}) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const result = await vc.verifyCredential({
    credential,
    suite,
    documentLoader,
    now,
    // Status lists are fetched over the network; this offline harness checks the proof only and says so.
    checkStatus: async () => ({verified: true, checked: false})
  });
  return {verified: result.verified === true, errors: result.verified ? [] : errorsOf(result)};
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const text = readFileSync(options.file === null ? 0 : options.file, 'utf8');
  const credential = JSON.parse(text);
  const didDocuments = options.didDocuments.map(file => JSON.parse(readFileSync(file, 'utf8')));
  const context = {documentLoader: makeDocumentLoader(didDocuments), now: options.now};

  const report = await verifyOne(credential, context);
  if(credential.credentialStatus) {
    report.status = 'not checked (offline verifier)';
  }
  const endorsements = credential.endorsement === undefined ? [] :
    [].concat(credential.endorsement);
  if(endorsements.length > 0) {
    report.endorsements = [];
    for(const [index, endorsement] of endorsements.entries()) {
      const outcome = await verifyOne(endorsement, context);
      const types = [].concat(endorsement.type || []);
      if(!types.includes('EndorsementCredential')) {
        outcome.verified = false;
        outcome.errors.push('not an EndorsementCredential');
      }
      const subject = endorsement.credentialSubject || {};
      if(subject.id !== credential.id) {
        outcome.verified = false;
        outcome.errors.push(`endorses ${subject.id}, not this credential ${credential.id}`);
      }
      const issuer = typeof endorsement.issuer === 'string' ? endorsement.issuer : endorsement.issuer?.id;
      report.endorsements.push({index, id: endorsement.id, issuer, ...outcome});
      if(!outcome.verified) {
        report.verified = false;
        report.errors.push(`endorsement ${index} by ${issuer}: ${outcome.errors.join('; ')}`);
      }
    }
  }
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exitCode = report.verified ? 0 : 1;
}

main().catch(error => {
  process.stdout.write(JSON.stringify({verified: false, errors: [error.message || String(error)]}) + '\n');
  process.exitCode = 1;
});
