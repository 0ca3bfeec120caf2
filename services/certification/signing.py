"""Where credentials are signed: in worker processes (workers.py), while the service goes on with the next grade.

Canonicalizing a credential for its proof is pure-Python work (about 0.4 ms of CPU on the fast path, vc/quads.py;
5-6 ms by pyld with cached contexts before it: bench/bench_credentials.py); in the service's own process it held up
the event loop that talks to PostgreSQL and Kafka. The issuing code builds the unsigned credential, hands it to the
signer and stores the signature before the unit of work commits (`UnitOfWork.before_commit`), so a cohort's
credentials are signed in parallel with the rest.

`SIGNING_PROCESSES=0` signs in the service's own process (the integration tests do, to start quickly).
"""

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.certification import domain
from services.certification.models import MicroCredentialRecord
from services.certification.signing_keys import NodeIdentity, node_identity
from services.certification.vc.credential import IssuerProfile
from services.certification.vc.endorsement import endorsement_credential, with_endorsements
from services.certification.vc.proof import sign
from services.certification.workers import WorkerProcesses


@dataclass(frozen=True)
class Endorser:
    """A co-awarding institution that endorses the credential, and what its endorsement says."""

    institution: str
    profile: IssuerProfile
    statement: str


@dataclass(frozen=True)
class SigningRequest:
    """Everything a worker needs to sign one credential. The document travels as JSON text: pickling a large nested
    dict in the service's process holds the interpreter lock long enough to slow its database and Kafka work."""

    public_url: str
    issuer_keys_dir: str | None
    lead: str
    unsigned_json: str
    credential_url: str
    issued_at: datetime
    endorsers: tuple[Endorser, ...] = ()

    @classmethod
    def of(
        cls,
        identity: NodeIdentity,
        issuer_keys_dir: str | None,
        record: MicroCredentialRecord,
        unsigned: dict[str, Any],
        credential_url: str,
        issued_at: datetime,
    ) -> "SigningRequest":
        lead = domain.lead_awarding_body(record.awarding_bodies)
        assert lead.id is not None
        endorsers = tuple(
            Endorser(body.id, identity.profile(body), f"{body.name} co-awards this micro-credential ({record.title}) with {lead.name}.")
            for body in domain.co_awarding_bodies(record.awarding_bodies)
            if body.id is not None and identity.holds(body.id)
        )
        return cls(
            identity.public_url, issuer_keys_dir, lead.id, json.dumps(unsigned), credential_url, issued_at, endorsers
        )

    def sign(self) -> str:
        """The signed credential, as JSON text."""
        identity = node_identity(self.public_url, self.issuer_keys_dir)
        unsigned = json.loads(self.unsigned_json)
        endorsements = [
            endorsement_credential(
                self.credential_url,
                endorser.profile,
                endorser.statement,
                private_key=identity.private_key(endorser.institution),
                verification_method=identity.verification_method(endorser.institution),
                issued_at=self.issued_at,
            )
            for endorser in self.endorsers
        ]
        if endorsements:
            unsigned = with_endorsements(unsigned, endorsements)
        signed = sign(
            unsigned, identity.private_key(self.lead), identity.verification_method(self.lead), created=self.issued_at
        )
        return json.dumps(signed)


def _sign_in_worker(request: SigningRequest) -> str:
    return request.sign()


class CredentialSigner(WorkerProcesses):
    """Signs credentials in a pool of worker processes (SIGNING_PROCESSES)."""

    def __init__(self, processes: int) -> None:
        super().__init__(processes, "signing")

    def sign(self, request: SigningRequest) -> "asyncio.Future[str]":
        """The signed credential (JSON text), as a future: awaiting it lets the caller do other work first. If the
        workers stop first (the service stops), the caller's transaction rolls back."""
        return self.submit(_sign_in_worker, request)
