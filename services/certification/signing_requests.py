"""A credential to sign as it travels to a signing worker (signing.py), and what the worker does with it.

A worker process imports this module to unpickle its jobs, so it imports only what signing needs: the verifiable
credential code (vc/) and the keys. The service's models, database, Kafka and web layers would add ~60 MB to every
worker (services/certification/tests/test_workers.py keeps them out); building a request from the service's records
is signing.py's `signing_request`.
"""

from dataclasses import dataclass
from datetime import datetime

import pydantic_core

from services.certification.signing_keys import node_identity
from services.certification.vc.credential import IssuerProfile
from services.certification.vc.endorsement import endorsement_credential, with_endorsements
from services.certification.vc.proof import sign


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

    def sign(self) -> str:
        """The signed credential, as JSON text."""
        identity = node_identity(self.public_url, self.issuer_keys_dir)
        unsigned = pydantic_core.from_json(self.unsigned_json)
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
            unsigned, identity.private_key(self.lead), identity.verification_method(self.lead), created=self.issued_at,
            copy=False,  # Parsed from the request's text just now: nothing else holds it.
        )
        return pydantic_core.to_json(signed).decode()


def sign_in_worker(requests: list[SigningRequest]) -> list[str | Exception]:
    """Each request's signed credential, or what went wrong with it (one bad request does not fail the others)."""
    signed: list[str | Exception] = []
    for request in requests:
        try:
            signed.append(request.sign())
        except Exception as error:
            signed.append(error)
    return signed
