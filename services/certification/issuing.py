"""Issuing signed credentials and changing their status: what the handlers and routes share.

A pass becomes a signed OpenBadgeCredential: built from the course version and the grade (domain), given a status
list index of the lead awarding institution, endorsed by each co-awarding institution this node hosts (the others'
nodes are asked for theirs: endorsements.py), signed by the lead institution's key, stored with its record, and announced by CredentialIssued (all in the caller's
unit of work). Revoking, suspending and reinstating set the credential's state, which the status lists are derived
from (and signed again before the transaction commits: status_publication.py), and announce it.
"""

import functools
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Executable, Text, bindparam, cast, insert
from sqlalchemy.dialects.postgresql import JSON
from sqlmodel import select

from services.certification import domain, reliances, status_lists, status_publication
from services.certification.domain import CredentialStatus, NotIssuable, StatusAction
from services.certification.models import Credential, MicroCredentialRecord, PresentedPart
from services.certification.settings import CertificationSettings
from services.certification.signing import CredentialSigner, signing_request
from services.certification.signing_keys import NodeIdentity, identity_of
from services.certification.status_indexes import StatusIndexes
from services.certification.status_lists import StatusPurpose
from services.certification.vc.credential import open_badge_credential_json
from shared.db import UnitOfWork, utcnow
from shared.events.assessment import GradeAmended, GradeRecorded
from shared.events.catalogue import MicroCredentialDescription
from shared.events.common import LearnerIdentity
from shared.events.certification import (
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialStatusChanged,
    CredentialSuspended,
)

if TYPE_CHECKING:
    from services.certification.endorsements import Endorsing


@dataclass(frozen=True)
class Links:
    credential_url: str
    download_url: str
    certificate_url: str
    verify_url: str


def links(settings: CertificationSettings, credential_id: str) -> Links:
    base = settings.public_url.rstrip("/")
    return Links(
        credential_url=f"{base}/credentials/{credential_id}",
        download_url=f"{base}/credentials/{credential_id}/credential.json",
        certificate_url=f"{base}/credentials/{credential_id}/certificate.pdf",
        verify_url=f"{settings.verify_page_url or f'{base}/verify'}?id={credential_id}",
    )


@dataclass(frozen=True)
class Issuer:
    """What issuing needs besides the unit of work: the node's settings, and where signatures are made."""

    settings: CertificationSettings
    signer: CredentialSigner
    status_indexes: StatusIndexes = field(default_factory=StatusIndexes)
    # Endorsements asked of co-awarding institutions' nodes (None: a node on its own asks no one).
    endorsing: "Endorsing | None" = None


def unsigned_credential_json(
    identity: NodeIdentity,
    record: MicroCredentialRecord,
    achievement_id: str,
    credential_url: str,
    issued_at: datetime,
    status: dict[str, Any],
    *,
    description: str | None = None,
    skills: Sequence[str] = (),
    evidence: Sequence[dict[str, Any]] = (),
) -> str:
    """The OpenBadgeCredential the lead awarding institution will sign, as JSON text (raises NotIssuable when it
    cannot be)."""
    lead = domain.lead_awarding_body(record.awarding_bodies)
    if not identity.holds(lead.id):
        raise NotIssuable(
            f"this node holds no signing key for the lead awarding institution {lead.id} "
            f"(create one with: python -m services.certification keys --institution {lead.id} --dir <ISSUER_KEYS_DIR>)"
        )
    try:
        return open_badge_credential_json(
            record,
            credential_url,
            identity.profile(lead),
            issued_at,
            status,
            achievement_id=achievement_id,
            description=description,
            skills=skills,
            awarding_body_ids={
                body.id: identity.did(body.id) for body in record.awarding_bodies if identity.holds(body.id)
            },
            evidence=evidence,
        )
    except ValueError as error:
        raise NotIssuable(f"the description cannot become a credential: {error}") from error


def pending_endorsements(identity: NodeIdentity, record: MicroCredentialRecord) -> list[str]:
    """Co-awarding institutions whose endorsement cannot be added here (this node holds no key for them): their nodes
    sign them (endorsements.py)."""
    return [str(body.id) for body in domain.co_awarding_bodies(record.awarding_bodies) if not identity.holds(body.id)]


async def next_status_index(uow: UnitOfWork, issuer: Issuer, institution: str, length: int) -> int:
    """A free status list index of the institution, at random, reserved by this process (status_indexes.py)."""
    try:
        return await issuer.status_indexes.take(uow.session.bind, institution, length)
    except status_lists.ListFull:
        raise NotIssuable(f"the status lists of {institution} are full ({length} entries)") from None


@dataclass(frozen=True)
class Award:
    """What a credential awards: a course version (earned by a grade) or a programme (earned by its parts)."""

    learner: LearnerIdentity
    course_id: str  # the course's id, or the programme's
    course_version: int
    record: MicroCredentialRecord
    grade_id: str | None = None
    description: str | None = None
    skills: Sequence[str] = ()
    programme: bool = False
    # For a programme: the learner's credentials it stacks, this node's and those they presented of other nodes.
    parts: Sequence[Credential] = ()
    presented: Sequence[PresentedPart] = ()

    @property
    def part_ids(self) -> list[str]:
        """This node's parts by credential id, presented parts by the id their issuer signed them with."""
        return [part.id for part in self.parts] + [part.credential_id for part in self.presented]

    @property
    def achievement_id(self) -> str:
        kind = "programme" if self.programme else "course"
        return f"urn:microcredentials:{kind}:{self.course_id}:v{self.course_version}"


@dataclass(frozen=True)
class Issued:
    """A credential awarded in this transaction, as what comes after awarding needs it. Its row is written with the
    transaction's other credentials (`read`); building a `Credential` object for it only to read it back into the row
    was a tenth of issuing's CPU."""

    id: str
    learner_id: str
    course_id: str
    programme: bool
    pending_endorsements: list[str]


def _evidence(
    settings: CertificationSettings, parts: Sequence[Credential], presented: Sequence[PresentedPart] = ()
) -> list[dict[str, Any]]:
    own = [
        {
            "id": links(settings, part.id).credential_url,
            "type": ["Evidence"],
            "name": part.record["title"],
            "narrative": f"The micro-credential {part.record['title']}, issued {part.issued_at.date().isoformat()}.",
        }
        for part in parts
    ]
    return own + [
        {
            "id": part.credential_id,
            "type": ["Evidence"],
            "name": part.record["title"],
            "narrative": f"The micro-credential {part.record['title']}, issued {part.record['date_of_issuing']} by "
            f"{part.record['awarding_bodies'][0]['name']}, presented by the learner and verified here.",
        }
        for part in presented
    ]


# The transaction's credentials waiting for their signatures to be stored (UnitOfWork.rows): each with its signing.
CREDENTIALS = "credentials"

# The signed document as the signer returned it (JSON text), stored as that text: parsing it here only for SQLAlchemy
# to serialise it again was ~7 % of issuing's CPU.
_STORING = insert(Credential.__table__).values(
    verifiable_credential=cast(bindparam("signed_document", type_=Text), JSON)
)
_STORED_COLUMNS = [column.name for column in Credential.__table__.columns if column.name != "verifiable_credential"]


async def _store_credentials(uow: UnitOfWork, pending: list[tuple[dict[str, Any], Awaitable[str]]]) -> None:
    await uow.session.execute(_STORING, [{**row, "signed_document": await signing} for row, signing in pending])


async def read(uow: UnitOfWork, query: Executable) -> Any:
    """`query` over credentials, run in the caller's transaction once the credentials it has awarded are written (they
    wait for the commit, `award`): every read of credentials that a later event of the same batch may depend on goes
    through here, so that none misses a credential awarded earlier in the batch."""
    await uow.write_rows(CREDENTIALS)
    return await uow.session.exec(query)


async def award(
    uow: UnitOfWork,
    issuer: Issuer,
    awarded: Award,
    replaces: Credential | None = None,
    credential_id: str | None = None,
) -> Issued:
    """Sign, store and announce a credential (raises NotIssuable), in the caller's unit of work.

    Its signature is made by the signer meanwhile; the credential is stored once, with its signed document, with the
    rest of the transaction's credentials when the unit of work commits, or earlier when a later event of the
    transaction reads credentials (`read`).
    """
    settings = issuer.settings
    identity = identity_of(settings)
    record = awarded.record
    lead = domain.lead_awarding_body(record.awarding_bodies)
    assert lead.id is not None
    credential_id = credential_id or str(uuid.uuid4())
    urls = links(settings, credential_id)
    issued_at = utcnow()
    record = record.model_copy(update={"date_of_issuing": issued_at.date()})
    index = await next_status_index(uow, issuer, lead.id, settings.status_list_length)
    unsigned = unsigned_credential_json(
        identity,
        record,
        awarded.achievement_id,
        urls.credential_url,
        issued_at,
        status_lists.status_entry(settings.public_url, lead.id, index, StatusPurpose.REVOCATION),
        description=awarded.description,
        skills=awarded.skills,
        evidence=_evidence(settings, awarded.parts, awarded.presented),
    )
    signing = issuer.signer.sign(
        signing_request(identity, settings.issuer_keys_dir, record, unsigned, urls.credential_url, issued_at)
    )
    issued = Issued(credential_id, awarded.learner.learner_id, awarded.course_id, awarded.programme,
                    pending_endorsements(identity, record))
    row = dict.fromkeys(_STORED_COLUMNS) | dict(  # The columns not given here start empty (revoked_at, ...).
        id=credential_id,
        learner_id=issued.learner_id,
        course_id=issued.course_id,
        course_version=awarded.course_version,
        grade_id=awarded.grade_id,
        programme=issued.programme,
        parts=awarded.part_ids,
        record=record.model_dump(mode="json"),
        issued_at=issued_at,
        issuer_institution=lead.id,
        status_index=index,
        pending_endorsements=issued.pending_endorsements,
        replaces=replaces.id if replaces else None,
    )
    uow.rows(CREDENTIALS, functools.partial(_store_credentials, uow)).append((row, signing))
    uow.publish(
        CredentialIssued(
            credential_id=credential_id,
            learner_id=awarded.learner.learner_id,
            learner=awarded.learner,
            course_id=awarded.course_id,
            course_version=awarded.course_version,
            title=record.title,
            awarding_bodies=record.awarding_bodies,
            issued_at=issued_at,
            grade=record.grade_achieved,
            credential_url=urls.credential_url,
            replaces=replaces.id if replaces else None,
            download_url=urls.download_url,
            verify_url=urls.verify_url,
            issuer_did=identity.did(lead.id),
            programme=awarded.programme,
            parts=awarded.part_ids,
        )
    )
    return issued


async def issue(
    uow: UnitOfWork,
    issuer: Issuer,
    grade: GradeRecorded | GradeAmended,
    course_version: int,
    course: MicroCredentialDescription,
    replaces: Credential | None = None,
    credential_id: str | None = None,
) -> Issued:
    """Issue the signed credential a passing grade earns (raises NotIssuable)."""
    awarded = Award(
        learner=grade.learner,
        course_id=grade.course_id,
        course_version=course_version,
        record=domain.credential_record(grade, course, utcnow()),
        grade_id=grade.grade_id,
        description=course.short_description,
        skills=course.skills,
    )
    return await award(uow, issuer, awarded, replaces, credential_id)


def status_of(credential: Credential) -> CredentialStatus:
    return domain.credential_status(credential.revoked_at is not None, credential.suspended_at is not None)


_EVENTS: dict[StatusAction, type[CredentialStatusChanged]] = {
    StatusAction.REVOKE: CredentialRevoked,
    StatusAction.SUSPEND: CredentialSuspended,
    StatusAction.UNSUSPEND: CredentialReinstated,
}


def change_status(
    uow: UnitOfWork,
    settings: CertificationSettings,
    credential: Credential,
    action: StatusAction,
    reason: str,
    changed_by: str,
    **event_fields: Any,
) -> None:
    """Revoke, suspend or reinstate (raises domain.TransitionRefused), and announce it."""
    domain.check_transition(status_of(credential), action)
    now = utcnow()
    if action is StatusAction.REVOKE:
        credential.revoked_at, credential.revocation_reason = now, reason
    elif action is StatusAction.SUSPEND:
        credential.suspended_at, credential.suspension_reason = now, reason
    else:
        credential.suspended_at, credential.suspension_reason = None, None
    uow.session.add(credential)
    purpose = StatusPurpose.REVOCATION if action is StatusAction.REVOKE else StatusPurpose.SUSPENSION
    status_publication.publish_on_commit(uow, settings, credential.issuer_institution, purpose)
    urls = links(settings, credential.id)
    uow.publish(
        _EVENTS[action](
            credential_id=credential.id,
            learner_id=credential.learner_id,
            learner=LearnerIdentity.model_validate(credential.record["identification_of_the_learner"]),
            course_id=credential.course_id,
            title=credential.record["title"],
            reason=reason,
            changed_by=changed_by,
            changed_at=now,
            credential_url=urls.credential_url,
            verify_url=urls.verify_url,
            **event_fields,
        )
    )


async def revoke(
    uow: UnitOfWork,
    settings: CertificationSettings,
    credential: Credential,
    reason: str,
    changed_by: str,
    **event_fields: Any,
) -> None:
    """Revoke a credential (raises domain.TransitionRefused), and the programme credentials that stack it: a
    programme credential stands on its parts. (A suspended part leaves them be: suspension is temporary.)"""
    change_status(uow, settings, credential, StatusAction.REVOKE, reason, changed_by, **event_fields)
    await reliances.tell_relying_nodes(uow, links(settings, credential.id).credential_url, credential)
    stacking_it = select(Credential).where(
        Credential.programme.is_(True), Credential.revoked_at.is_(None), Credential.parts.contains([credential.id])
    )
    for programme in (await read(uow, stacking_it.with_for_update())).all():
        because = f"its part {credential.record['title']} ({credential.id}) was revoked: {reason}"
        change_status(uow, settings, programme, StatusAction.REVOKE, because, changed_by)
