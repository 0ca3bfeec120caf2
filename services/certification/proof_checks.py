"""Checking a presented credential's proofs (the issuer's and every endorsement's) in worker processes.

Anyone may send a credential to /verify; its canonicalization costs about 2 ms for an ordinary credential and seconds
for one padded with endorsements. In the service's own process that time would stop everything else the service
does, so it runs in the service's proof workers (PROOF_PROCESSES, workers.py), taking turns with signing: a burst of
verifications does not stop issuing, nor issuing an employer's check.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.certification.vc.endorsement import verify_joint
from services.certification.vc.keys import KeyResolver
from services.certification.vc.proof import VerificationResult
from services.certification.workers import WorkerProcesses


@dataclass(frozen=True)
class ProofCheck:
    """One credential to check (JSON text: cheaper to send to a worker than a nested dict), with the DID documents
    whose keys may have signed it; did:key resolves from the identifier itself (whether to trust it is not decided
    here but by the issuer directory)."""

    credential_json: str
    did_documents_json: str

    def run(self) -> VerificationResult:
        resolver = KeyResolver(json.loads(self.did_documents_json), allow_did_key=True)
        return verify_joint(json.loads(self.credential_json), resolver)


def _check_in_worker(check: ProofCheck) -> VerificationResult:
    return check.run()


class Busy(Exception):
    """As many checks as the node takes at once are waiting or running."""


class ProofChecker:
    """Checks credentials' proofs in the service's proof workers (PROOF_PROCESSES), at most `max_in_flight` at once:
    each waiting check holds its document in memory, and anyone may send them."""

    def __init__(self, workers: WorkerProcesses, max_in_flight: int) -> None:
        self.workers = workers
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def check(self, credential: Mapping[str, Any], did_documents: Iterable[Mapping[str, Any]]) -> VerificationResult:
        """The proofs' check (raises Busy when `max_in_flight` checks are already waiting or running)."""
        if self.in_flight >= self.max_in_flight:
            raise Busy(f"{self.in_flight} credentials are being checked; try again in a moment")
        self.in_flight += 1
        try:
            check = ProofCheck(json.dumps(credential), json.dumps([dict(d) for d in did_documents]))
            return await self.workers.submit(_check_in_worker, check, "verifying")
        finally:
            self.in_flight -= 1
