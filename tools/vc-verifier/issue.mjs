#!/usr/bin/env node
// Signs a credential with Digital Bazaar's libraries (the reverse direction of verify.mjs), so our Python verifier
// can be checked against credentials it did not produce. For tests and interoperability checks only.
//
// Usage: node issue.mjs < unsigned.json > signed.json
// A fresh did:key is generated; the credential's issuer (string or Profile id) is set to it. Offline: the standard
// contexts come from their npm packages (loader.mjs), nothing is fetched.

import {readFileSync} from 'node:fs';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';

import {documentLoader} from './loader.mjs';

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
const signed = await vc.issue({credential, suite, documentLoader: documentLoader()});
process.stdout.write(JSON.stringify(signed) + '\n');
