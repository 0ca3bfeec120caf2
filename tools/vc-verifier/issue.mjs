#!/usr/bin/env node
// Signs a credential with Digital Bazaar's libraries (the reverse direction of verify.mjs), so our Python verifier
// can be checked against credentials it did not produce. For tests and interoperability checks only.
//
// Usage: node issue.mjs < unsigned.json > signed.json
// A fresh did:key is generated; the credential's issuer (string or Profile id) is set to it. Offline, like
// verify.mjs: contexts come from services/certification/contexts/manifest.json only.

import {readFileSync} from 'node:fs';
import {dirname, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';

const here = dirname(fileURLToPath(import.meta.url));
const contextsDir = resolve(here, '..', '..', 'services', 'certification', 'contexts');
const manifest = JSON.parse(readFileSync(resolve(contextsDir, 'manifest.json'), 'utf8'));

async function documentLoader(url) {
  if(url in manifest) {
    const document = JSON.parse(readFileSync(resolve(contextsDir, manifest[url]), 'utf8'));
    return {contextUrl: null, documentUrl: url, document};
  }
  throw new Error(`${url} is not bundled and this tool never uses the network`);
}

const credential = JSON.parse(readFileSync(0, 'utf8'));
const keyPair = await Ed25519Multikey.generate();
const did = `did:key:${keyPair.publicKeyMultibase}`;
keyPair.controller = did;
keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
if(typeof credential.issuer === 'object' && credential.issuer !== null) {
  credential.issuer.id = did;
} else {
  credential.issuer = did;
}
const suite = new DataIntegrityProof({signer: keyPair.signer(), cryptosuite: eddsaRdfc2022CryptoSuite});
const signed = await vc.issue({credential, suite, documentLoader});
process.stdout.write(JSON.stringify(signed) + '\n');
