"""The certification service's app factory."""

from pathlib import Path

from fastapi import FastAPI

from services.certification.handlers import event_handlers
from services.certification.issuing import Issuer
from services.certification.routes import router
from services.certification.verify_page import verify_routes
from services.certification.wallet import router as wallet_router
from services.certification.settings import CertificationSettings
from services.certification.signing import CredentialSigner
from services.certification.proof_checks import ProofChecker
from services.certification.resolver import MemberResolver
from services.certification.endorsements import Endorsing
from services.certification import presented_parts
from services.certification.presented_parts import PresentedParts
from services.certification.presentations import presentation_routes
from services.certification.trust import refuse_foreign_keys
from services.certification.workers import WorkerProcesses
from shared import service
from shared.alliance import RegistryInUse
from shared.events import Topic


def create_service(settings: CertificationSettings | None = None) -> service.Service:
    settings = settings or CertificationSettings()
    proof_workers = WorkerProcesses(settings.proof_processes)
    signer = CredentialSigner(proof_workers)
    checker = ProofChecker(proof_workers, settings.verify_max_in_flight)
    resolver = MemberResolver(settings, checker.check)
    registry = RegistryInUse()
    endorsing = Endorsing(settings, registry, checker, resolver)
    issuer = Issuer(settings, signer, endorsing=endorsing)
    parts = PresentedParts(issuer, endorsing)
    return service.Service(
        settings=settings,
        title="Certification",
        description=(
            "Learners' micro-credentials, issued as signed W3C Verifiable Credentials (Open Badges 3.0) when a passing "
            "grade is recorded; revocation and suspension with Bitstring Status Lists; verification for everyone. "
            "Joint credentials carry each co-awarding university's endorsement, signed at that university's node."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[router, verify_routes(checker, resolver), wallet_router, presentation_routes(parts)],
        handlers=event_handlers(issuer, endorsing) | presented_parts.event_handlers(parts),
        consumes=[Topic.COURSES, Topic.PROGRAMMES, Topic.GRADES, Topic.ALLIANCE_INCOMING],
        background=[
            registry.bind, proof_workers.run, resolver.run, endorsing.ask_again_on_schedule,
            parts.recheck_on_schedule,
        ],
        startup_checks=[refuse_foreign_keys],
    )


def create_app(settings: CertificationSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))
