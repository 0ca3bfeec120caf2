"""What other nodes and employers rely on in the journey's credential: it verifies in an independent verifier that knows
only the standard contexts, it is an Open Badges 3.0 credential by 1EdTech's JSON Schemas, its status can be read
from signed status lists, and its issuer's DID document is where the did:web method says."""

import base64
import gzip
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from conformance import verifier
from conformance.contract import open_badges_problems
from conformance.run import Failed, Run
from services.certification.vc.keys import did_web_location


def _issuer(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def _status_entries(credential: dict[str, Any]) -> list[dict[str, Any]]:
    status = credential.get("credentialStatus") or []
    return [entry for entry in (status if isinstance(status, list) else [status]) if isinstance(entry, dict)]


async def _verified(run: Run, what: str, document: dict[str, Any]) -> dict[str, Any]:
    outcome = await verifier.verify(document)
    run.record(f"node tools/vc-verifier/verify.mjs < {what}", str(outcome))
    return outcome


async def credential(run: Run) -> None:
    """The journey's credential verifies in Digital Bazaar's verifier (standard contexts only), unrevoked, and is valid by the Open Badges 3.0 JSON Schemas"""
    issued = run.needs("credential", "journey")
    for problem in open_badges_problems(issued):
        run.fail(f"Open Badges 3.0 JSON Schema: {problem}")
    outcome = await _verified(run, f"credential {issued.get('id')}", issued)
    if not outcome.get("verified"):
        run.fail(f"Digital Bazaar's verifier refuses credential {issued.get('id')}: {'; '.join(outcome.get('errors', []))}")
    if outcome.get("status", {}).get("revocation") != "not revoked":
        run.fail(f"the verifier could not confirm that the new credential is not revoked: {outcome.get('status')}")


async def status_lists(run: Run) -> None:
    """The status lists the credential names are signed Bitstring Status List credentials that verify, and say it is valid"""
    issued = run.needs("credential", "journey")
    entries = _status_entries(issued)
    if not entries:
        raise Failed("the credential names no credentialStatus: no one could ever learn that it was revoked")
    for entry in entries:
        url, purpose = entry.get("statusListCredential"), entry.get("statusPurpose")
        if not isinstance(url, str):
            run.fail(f"a credentialStatus entry names no statusListCredential: {entry}")
            continue
        response = await run.fetch(url)
        if response.status_code != 200:
            run.fail(f"the {purpose} status list {url} answered {response.status_code}")
            continue
        status_list = _json(response)
        if not isinstance(status_list, dict):
            run.fail(f"the {purpose} status list {url} is not a JSON object")
            continue
        if "BitstringStatusListCredential" not in status_list.get("type", []):
            run.fail(f"{url} is not a BitstringStatusListCredential: type {status_list.get('type')}")
        subject = status_list.get("credentialSubject", {})
        if subject.get("statusPurpose") != purpose:
            run.fail(f"{url} is a list for {subject.get('statusPurpose')!r}, the credential names it for {purpose!r}")
        if _issuer(status_list) != _issuer(issued):
            run.fail(f"{url} is issued by {_issuer(status_list)}, not by the credential's issuer {_issuer(issued)}")
        outcome = await _verified(run, f"status list {url}", status_list)
        if not outcome.get("verified"):
            run.fail(f"Digital Bazaar's verifier refuses the status list {url}: {'; '.join(outcome.get('errors', []))}")
        try:
            bit = _bit(subject.get("encodedList", ""), int(entry.get("statusListIndex", -1)))
        except ValueError as error:
            run.fail(f"{url}: {error}")
            continue
        if bit:
            run.fail(f"the new credential's bit {entry.get('statusListIndex')} is set in {url}: it reads as {purpose}")


def _bit(encoded: str, index: int) -> bool:
    """Bit `index` of a Bitstring Status List: multibase base64url (`u`), GZIP, the first bit the highest of byte 0."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList is not multibase base64url (it must start with 'u')")
    try:
        bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"encodedList does not decode: {error}") from error
    if not 0 <= index < len(bits) * 8:
        raise ValueError(f"statusListIndex {index} is outside the list's {len(bits) * 8} bits")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def did_web_url(did: str) -> str:
    """Where the did:web method puts a DID's document: https, or http for a loopback host (as the verifier does)."""
    host, path = did_web_location(did)
    hostname = urlsplit(f"//{host}").hostname or ""
    try:
        loopback = hostname == "localhost" or ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        loopback = False
    return f"{'http' if loopback else 'https'}://{host}{path}"


async def did_documents(run: Run) -> None:
    """The issuer's DID document is served where the did:web method says, and authorizes the key that signed"""
    issued = run.needs("credential", "journey")
    signers = [issued, *(e for e in issued.get("endorsement", []) if isinstance(e, dict))]
    for document in signers:
        did = _issuer(document)
        proofs = document.get("proof") or []
        methods = [p.get("verificationMethod") for p in (proofs if isinstance(proofs, list) else [proofs]) if isinstance(p, dict)]
        if not isinstance(did, str) or not did.startswith("did:web:"):
            run.fail(f"issuer {did!r} is not a did:web: other nodes find an issuer's keys at its node (did:web)")
            continue
        url = did_web_url(did)
        response = await run.fetch(url)
        if response.status_code != 200:
            run.fail(f"the DID document of {did} is not at {url}: {response.status_code}")
            continue
        if not methods:
            run.fail(f"{document.get('id')} has no proof naming the verificationMethod that signed it")
        for method in methods:
            for problem in did_document_problems(_json(response), did, method):
                run.fail(f"{url}: {problem}")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def did_document_problems(document: Any, did: str, signing_method: str) -> list[str]:
    """What keeps a verifier from accepting `signing_method`'s proofs by `did` with this document (DID Core, Multikey)."""
    if not isinstance(document, dict):
        return ["not a JSON object"]
    problems = []
    if document.get("id") != did:
        problems.append(f"its id is {document.get('id')!r}, not {did}")
    contexts = document.get("@context", [])
    if "https://www.w3.org/ns/did/v1" not in (contexts if isinstance(contexts, list) else [contexts]):
        problems.append("its @context lacks https://www.w3.org/ns/did/v1")
    methods = {m.get("id"): m for m in document.get("verificationMethod", []) if isinstance(m, dict)}
    method = methods.get(signing_method)
    if method is None:
        problems.append(f"it has no verificationMethod {signing_method}, the key the credential's proof names")
    else:
        if method.get("controller") != did:
            problems.append(f"{signing_method} is controlled by {method.get('controller')!r}, not by {did}")
        if method.get("type") != "Multikey" or not str(method.get("publicKeyMultibase", "")).startswith("z6Mk"):
            problems.append(f"{signing_method} is not an Ed25519 Multikey (type Multikey, publicKeyMultibase z6Mk…)")
    assertion = [m if isinstance(m, str) else m.get("id") for m in document.get("assertionMethod", [])]
    if signing_method not in assertion:
        problems.append(f"{signing_method} is not listed under assertionMethod: it may not sign credentials")
    return problems
