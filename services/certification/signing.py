"""Where credentials are signed: in worker processes, while the service goes on with the next grade.

Canonicalizing a credential for its proof is pure-Python work (about 1.6 ms, bench/bench_credentials.py); in the
service's own process it was half of the time of issuing, and it held up the event loop that talks to PostgreSQL and
Kafka. The issuing code builds the unsigned credential, hands it to the signer and stores the signature before the
unit of work commits (`UnitOfWork.before_commit`), so a cohort's credentials are signed in parallel with the rest.

`SIGNING_PROCESSES=0` signs in the service's own process (the integration tests do, to start quickly).
"""

import asyncio
import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import State

from services.certification import domain
from services.certification.models import MicroCredentialRecord
from services.certification.signing_keys import NodeIdentity, node_identity
from services.certification.vc.credential import IssuerProfile
from services.certification.vc.endorsement import endorsement_credential, with_endorsements
from services.certification.vc.proof import sign

log = logging.getLogger(__name__)


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


def _warm_up() -> None:
    """Imports and JSON-LD context caches, before the first credential waits for them."""
    from services.certification.vc import proof
    from services.certification.vc.contexts import CREDENTIAL_CONTEXT

    proof.canonicalize({"@context": CREDENTIAL_CONTEXT, "type": ["VerifiableCredential", "OpenBadgeCredential"]})


class CredentialSigner:
    """Signs credentials in a pool of worker processes, started on first use (or by `run`) and stopped by `run`."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def sign(self, request: SigningRequest) -> "asyncio.Future[str]":
        """The signed credential (JSON text), as a future: awaiting it lets the caller do other work first."""
        if self.processes == 0:
            done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            try:
                done.set_result(request.sign())
            except Exception as error:
                done.set_exception(error)
            return done
        try:
            return asyncio.wrap_future(self._workers().submit(_sign_in_worker, request))
        except BrokenProcessPool:  # A worker died (killed for memory, say): start new ones rather than fail forever.
            log.warning("a signing worker died; starting new ones")
            self.close()
            return asyncio.wrap_future(self._workers().submit(_sign_in_worker, request))

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the service process has an event loop, sockets and possibly threads to not inherit.
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_warm_up
            )
        return self._pool

    async def run(self, state: State) -> None:
        """A background task of the service: starts the workers at once, and stops them when the service stops."""
        if self.processes == 0:
            return
        pool = self._workers()
        try:
            await asyncio.gather(*(asyncio.wrap_future(pool.submit(_warm_up)) for _ in range(self.processes)))
            log.info("signing in %d worker processes", self.processes)
            await asyncio.Event().wait()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers; signatures not yet made fail their callers (whose transactions then roll back)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
