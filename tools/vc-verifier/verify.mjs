#!/usr/bin/env node
// Independent verifier: checks a credential with Digital Bazaar's widely used libraries (@digitalbazaar/vc
// verifyCredential + DataIntegrityProof + eddsa-rdfc-2022, and @digitalbazaar/vc-bitstring-status-list for its
// status), configured as a verifier that knows only the standard contexts (see loader.mjs): it fetches nothing but the
// issuer's DID document (did:web) and the status list the credential names.
//
// Usage: node verify.mjs [credential.json] [--now 2026-01-01T00:00:00Z]   (reads stdin when no file is given)
// Prints one JSON line {"verified": bool, "errors": [...], "status": {...}, "endorsements": [...]}; exit code 0 when
// the credential and every EndorsementCredential in its `endorsement` list verify and it is neither revoked nor
// suspended, 1 otherwise.

import {readFileSync} from 'node:fs';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';

import {documentLoader} from './loader.mjs';

function parseArguments(argv) {
  const options = {file: null, now: undefined};
  for(let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if(argument === '--now') {
      options.now = argv[++i];
    } else if(argument === '--help' || argument === '-h') {
      process.stdout.write('usage: node verify.mjs [credential.json] [--now ISO-8601]\n');
      process.exit(0);
    } else if(options.file === null) {
      options.file = argument;
    } else {
      throw new Error(`unexpected argument ${argument}`);
    }
  }
  return options;
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
    // jsonld.js wraps what the document loader said (e.g. why it refused a URL) in a cause.
    const cause = error.cause || error.details?.cause;
    found.push(cause?.message && !error.message.includes(cause.message) ? `${error.message} (${cause.message})` :
      error.message);
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

const STATUS_WORDS = {revocation: ['revoked', 'not revoked'], suspension: ['suspended', 'not suspended']};

function statusEntries(credential) {
  return [].concat(credential.credentialStatus || []);
}

async function verifyOne(credential, {loader, now}) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const result = await vc.verifyCredential({credential, suite, documentLoader: loader, now, checkStatus});
  const outcome = {verified: result.verified === true, errors: result.verified ? [] : errorsOf(result)};
  // The status library says whether it could read the bits; whether a set bit invalidates it is the verifier's call.
  for(const {credentialStatus, status} of result.statusResult?.results || []) {
    const purpose = credentialStatus.statusPurpose;
    const [set, unset] = STATUS_WORDS[purpose] || [`${purpose} set`, `${purpose} not set`];
    outcome.status = {...outcome.status, [purpose]: status ? set : unset};
    if(status) {
      outcome.verified = false;
      outcome.errors.push(
        `${set}: its bit is set in ${credentialStatus.statusListCredential} (index ${credentialStatus.statusListIndex})`);
    }
  }
  return outcome;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const credential = JSON.parse(readFileSync(options.file === null ? 0 : options.file, 'utf8'));
  const endorsements = credential.endorsement === undefined ? [] : [].concat(credential.endorsement);
  const statusListUrls = [credential, ...endorsements].flatMap(statusEntries).map(entry => entry.statusListCredential);
  const context = {loader: documentLoader({statusListUrls}), now: options.now};

  const report = await verifyOne(credential, context);
  if(endorsements.length > 0) {
    report.endorsements = [];
    for(const [index, endorsement] of endorsements.entries()) {
      const outcome = await verifyOne(endorsement, context);
      if(![].concat(endorsement.type || []).includes('EndorsementCredential')) {
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
