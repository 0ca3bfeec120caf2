"""The credential signer: in worker processes or in the service's own, the same verifiable credential."""

import dataclasses
import json
import multiprocessing
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from concurrent.futures.process import BrokenProcessPool

from services.certification import domain, status_lists
from services.certification.issuing import unsigned_credential_json
from services.certification.signing import CredentialSigner, signing_request
from services.certification.signing_requests import SigningRequest
from services.certification.signing_keys import InstitutionProfile, MissingKey, create_key, node_identity, save_profile
from services.certification.tests.test_domain import alliance_course
from services.certification.vc.endorsement import verify_joint
from services.certification.workers import WorkerProcesses
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import AwardingBody
from shared.events.common import LearnerIdentity

PUBLIC_URL = "https://node.example"
ISSUED_AT = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)
SAARLAND = AwardingBody(id="uni-saarland", name="Saarland University", country="DE")
SOFIA = AwardingBody(id="uni-sofia", name="Sofia University", country="BG")


@pytest.fixture(scope="module")
def keys_dir() -> str:
    folder = Path(tempfile.mkdtemp(prefix="mc-signing-keys-"))
    create_key(folder, "uni-saarland")
    create_key(folder, "uni-sofia")
    # The names the node's operator states (verification shows these, not the names credentials give themselves).
    save_profile(folder, "uni-saarland", InstitutionProfile("Universität des Saarlandes", "DE"))
    save_profile(folder, "uni-sofia", InstitutionProfile("Sofia University St. Kliment Ohridski", "BG"))
    return str(folder)


def request(keys_dir: str, *bodies: AwardingBody) -> SigningRequest:
    learner = LearnerIdentity(learner_id="learner-ada", name="Ada Lovelace", email="ada@example.org")
    grade = GradeRecorded(
        grade_id="grade-1", enrolment_id="enrolment-1", course_id="course-1", course_version=1,
        learner_id=learner.learner_id, learner=learner, grade="1.3", passed=True, assessed_on=ISSUED_AT.date(),
        submission_id="submission-1",
    )
    course = alliance_course().model_copy(update={"awarding_bodies": list(bodies)})
    record = domain.credential_record(grade, course, ISSUED_AT)
    url = f"{PUBLIC_URL}/credentials/c-1"
    identity = node_identity(PUBLIC_URL, keys_dir)
    unsigned = unsigned_credential_json(
        identity, record, "urn:microcredentials:course:course-1:v1", url, ISSUED_AT,
        status_lists.status_entry(PUBLIC_URL, "uni-saarland", 3, status_lists.StatusPurpose.REVOCATION),
    )
    return signing_request(identity, keys_dir, record, unsigned, url, ISSUED_AT)


@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "worker-process"])
async def test_a_joint_credential_signed_either_way_verifies_with_its_endorsement(keys_dir: str, processes: int) -> None:
    signer = CredentialSigner(WorkerProcesses(processes))
    try:
        document = json.loads(await signer.sign(request(keys_dir, SAARLAND, SOFIA)))
    finally:
        signer.workers.close()
    identity = node_identity(PUBLIC_URL, keys_dir)
    result = verify_joint(document, identity.resolver, required_endorsers=[identity.did("uni-sofia")])
    assert result.verified, result.problems
    assert document["issuer"]["id"] == identity.did("uni-saarland")


@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "worker-process"])
async def test_a_signature_that_cannot_be_made_fails_the_caller_not_silently(keys_dir: str, processes: int) -> None:
    without_keys = dataclasses.replace(request(keys_dir, SAARLAND), issuer_keys_dir=tempfile.mkdtemp())
    signer = CredentialSigner(WorkerProcesses(processes))
    try:
        with pytest.raises(MissingKey, match="uni-saarland"):
            await signer.sign(without_keys)
    finally:
        signer.workers.close()


async def test_a_signing_worker_that_dies_is_replaced(keys_dir: str) -> None:
    signer = CredentialSigner(WorkerProcesses(1))
    try:
        await signer.sign(request(keys_dir, SAARLAND))
        for worker in multiprocessing.active_children():
            worker.kill()
            worker.join()
        # A signature asked for before the pool noticed fails (its transaction is retried); the next one is made.
        for _attempt in range(2):
            try:
                document = json.loads(await signer.sign(request(keys_dir, SAARLAND)))
                break
            except BrokenProcessPool:
                continue
        assert document["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    finally:
        signer.workers.close()
