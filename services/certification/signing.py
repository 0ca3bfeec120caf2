"""Where credentials are signed: in worker processes (workers.py), while the service goes on with the next grade.

Canonicalizing a credential for its proof is pure-Python work (about 0.4 ms of CPU on the fast path, vc/quads.py;
5-6 ms by pyld with cached contexts before it: bench/bench_credentials.py); in the service's own process it held up
the event loop that talks to PostgreSQL and Kafka. The issuing code builds the unsigned credential, hands it to the
signer and stores the signature before the unit of work commits (`UnitOfWork.before_commit`), so a cohort's
credentials are signed in parallel with the rest.

`PROOF_PROCESSES=0` signs in the service's own process (the integration tests do, to start quickly). What travels to
a worker, and what the worker runs, is signing_requests.py: kept apart so that workers load little.
"""

import asyncio
import functools
from datetime import datetime

from services.certification import domain
from services.certification.models import MicroCredentialRecord
from services.certification.signing_keys import NodeIdentity
from services.certification.signing_requests import Endorser, SigningRequest, sign_in_worker
from services.certification.workers import WorkerProcesses


def signing_request(
    identity: NodeIdentity,
    issuer_keys_dir: str | None,
    record: MicroCredentialRecord,
    unsigned_json: str,
    credential_url: str,
    issued_at: datetime,
) -> SigningRequest:
    """What a worker needs to sign this credential: the lead awarding body signs, and each co-awarding body this node
    holds a key for endorses it."""
    lead = domain.lead_awarding_body(record.awarding_bodies)
    assert lead.id is not None
    endorsers = tuple(
        Endorser(body.id, identity.profile(body), f"{body.name} co-awards this micro-credential ({record.title}) with {lead.name}.")
        for body in domain.co_awarding_bodies(record.awarding_bodies)
        if body.id is not None and identity.holds(body.id)
    )
    return SigningRequest(
        identity.public_url, issuer_keys_dir, lead.id, unsigned_json, credential_url, issued_at, endorsers
    )


# Requests sent to a worker together: a job per credential cost the service's process more (pickling, the pool's
# queues and threads, a wake-up per result) than building the credential did; a few dozen at a time keep the workers
# busy while the rest of the batch is still being handled.
CHUNK = 16


class CredentialSigner:
    """Signs credentials in the service's proof workers (PROOF_PROCESSES)."""

    def __init__(self, workers: WorkerProcesses) -> None:
        self.workers = workers
        self._waiting: list[tuple[SigningRequest, asyncio.Future[str]]] = []

    def sign(self, request: SigningRequest) -> "asyncio.Future[str]":
        """The signed credential (JSON text), as a future: awaiting it lets the caller do other work first. If the
        workers stop first (the service stops), the caller's transaction rolls back.

        The requests made before the caller next waits (a batch of grades handled one after another) go to the workers
        together, in chunks."""
        loop = asyncio.get_running_loop()
        signed: asyncio.Future[str] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send_waiting)
        self._waiting.append((request, signed))
        return signed

    def _send_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), CHUNK):
            chunk = waiting[start:start + CHUNK]
            try:
                job = self.workers.submit(sign_in_worker, [request for request, _ in chunk], "signing")
            except Exception as error:
                job = asyncio.get_running_loop().create_future()
                job.set_exception(error)
            job.add_done_callback(functools.partial(_hand_out, [signed for _, signed in chunk]))


def _hand_out(futures: list["asyncio.Future[str]"], job: "asyncio.Future[list[str | Exception]]") -> None:
    if job.cancelled():  # The workers stopped (the service stops): the callers' transactions roll back.
        for future in futures:
            future.cancel()
        return
    if (failure := job.exception()) is not None:
        results: list[str | BaseException] = [failure] * len(futures)
    else:
        results = list(job.result())
    for future, result in zip(futures, results):
        if future.done():  # Its transaction gave up waiting.
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
