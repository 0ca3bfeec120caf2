"""Signed, independently verifiable credentials: W3C VC 2.0 + Open Badges 3.0, secured with eddsa-rdfc-2022.

Plain functions, no database and no Kafka: the certification service calls them.

    from services.certification.vc import keys, credential, proof, endorsement

- `keys`: Ed25519 keys (PEM), did:key, did:web documents, `KeyResolver` (offline key resolution).
- `credential.open_badge_credential_json(record, credential_id, issuer, issued_at, status=None, ...)`: the unsigned
  OpenBadgeCredential with every Annex I element (see MAPPING.md).
- `proof.sign(document, private_key, verification_method, created)` / `proof.verify(document, resolve_key)`.
- `endorsement.endorsement_credential(...)`, `endorsement.with_endorsements(...)`, `endorsement.verify_joint(...)`.
"""
