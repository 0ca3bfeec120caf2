"""The certification service's tables: credentials, and its read models of approved course versions and grades."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlmodel import Field, SQLModel

from shared.db import service_table_base, timestamp_column
from shared.events.catalogue import AwardingBody, FormOfParticipation, IdentityVerification, Stackability
from shared.events.common import LearnerIdentity

CertificationTable = service_table_base()


class CourseVersion(CertificationTable, table=True):
    """An approved course version's description, as told by CourseApproved; credentials are built from it."""

    __tablename__ = "course_versions"

    course_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    description: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


class Grade(CertificationTable, table=True):
    """Every grade recorded (pass or fail), as told by GradeRecorded: an amendment names only the grade id."""

    __tablename__ = "grades"

    grade_id: str = Field(primary_key=True)
    learner_id: str
    course_id: str
    course_version: int
    learner: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    grade: str
    passed: bool


class MicroCredentialRecord(SQLModel):
    """Every mandatory element of Annex I of the Council Recommendation of 16 June 2022, and the optional ones held."""

    identification_of_the_learner: LearnerIdentity
    title: str
    countries_of_the_issuer: list[str]
    awarding_bodies: list[AwardingBody]
    date_of_issuing: date
    learning_outcomes: list[str]
    languages: list[str]
    workload_ects: float
    workload_hours: float | None
    eqf_level: int | None
    type_of_assessment: str
    form_of_participation: FormOfParticipation
    type_of_quality_assurance: str
    # Optional elements.
    grade_achieved: str | None
    prerequisites: str | None
    identity_verification: IdentityVerification | None
    stackability: Stackability
    contact: str | None


class Credential(CertificationTable, table=True):
    __tablename__ = "credentials"
    __table_args__ = (
        # One live credential per learner and course version: a grade delivered twice issues once; an amended grade
        # revokes the old credential before its replacement is issued.
        Index(
            "uq_credentials_live_learner_course",
            "learner_id",
            "course_id",
            "course_version",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        # Each credential has its own bit in its institution's status lists.
        UniqueConstraint("issuer_institution", "status_index", name="uq_credentials_status_index"),
    )

    id: str = Field(primary_key=True)
    learner_id: str = Field(index=True)
    # A course version's credential, or a programme's (then course_id and course_version are the programme's).
    course_id: str
    course_version: int
    # The grade that earned it; None for a programme credential, which its parts earned.
    grade_id: str | None = Field(default=None, index=True)
    programme: bool = False
    parts: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    record: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    issued_at: datetime = Field(sa_column=timestamp_column())
    # The lead awarding institution, whose key signed it.
    issuer_institution: str
    status_index: int
    # The signed OpenBadgeCredential (W3C VC 2.0), exactly as issued: JSON, the signer's text kept as it is (nothing
    # queries inside it, and JSONB's parsing took PostgreSQL more CPU than any other statement of a cohort; 0009).
    verifiable_credential: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # Co-awarding institutions whose endorsement this node could not add (it holds no key for them).
    pending_endorsements: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    # The credential this one replaces (after an amended grade).
    replaces: str | None = None
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    revocation_reason: str | None = None
    suspended_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    suspension_reason: str | None = None


class CredentialPublic(SQLModel):
    id: str
    learner_id: str
    course_id: str
    course_version: int
    issued_at: datetime
    issuer_institution: str
    programme: bool
    parts: list[str]
    # valid, suspended or revoked.
    status: str
    signed: bool = True
    record: MicroCredentialRecord
    credential: dict[str, Any]
    pending_endorsements: list[str]
    # Whether every co-awarding institution's endorsement is attached (False while some are pending).
    complete: bool = True
    # For each pending endorsement: whom this node asked, how often, and what the partner answered last.
    endorsement_requests: list["EndorsementRequestPublic"] = []
    replaces: str | None
    revocation_reason: str | None
    suspension_reason: str | None
    download_url: str
    certificate_url: str  # the PDF certificate
    verify_url: str


class StatusChange(SQLModel):
    reason: str = Field(min_length=3, max_length=1000)


class Share(CertificationTable, table=True):
    """A link a learner made to show one credential to someone (an employer) until it expires."""

    __tablename__ = "shares"

    token: str = Field(primary_key=True)
    credential_id: str = Field(foreign_key="credentials.id", index=True)
    created_at: datetime = Field(sa_column=timestamp_column())
    expires_at: datetime = Field(sa_column=timestamp_column())
    # When the learner took the link back before it expired.
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class ShareRequest(SQLModel):
    expires_in_days: int = Field(default=30, ge=1, le=365)


class ShareLink(SQLModel):
    url: str
    expires_at: datetime


class ShareLinkPublic(ShareLink):
    """One of a credential's share links, as its holder sees them."""

    token: str
    created_at: datetime
    revoked_at: datetime | None
    # Whether it shows the credential now: neither expired nor revoked.
    active: bool


class SharedCredential(SQLModel):
    """What a share link shows: the signed credential, its record, and whether it is valid now."""

    credential: dict[str, Any]
    record: MicroCredentialRecord
    status: str
    expires_at: datetime
    download_url: str
    certificate_url: str  # the PDF certificate
    verify_url: str


class Programme(CertificationTable, table=True):
    """An approved programme (a stack of micro-credentials), as told by ProgrammeApproved."""

    __tablename__ = "programmes"

    programme_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    title: str
    description: str | None = None
    awarding_bodies: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    rule: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


class PublishedStatusList(CertificationTable, table=True):
    """An institution's signed status list credential for one purpose, exactly as served: signed again when a
    status of that purpose changes (status_publication.py), not per request."""

    __tablename__ = "status_lists"

    institution: str = Field(primary_key=True)
    purpose: str = Field(primary_key=True)  # revocation or suspension
    credential: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    signed_at: datetime = Field(sa_column=timestamp_column())


class EndorsementRequest(CertificationTable, table=True):
    """A joint credential's endorsement this node (the lead's) asked a co-awarding institution's node for
    (endorsements.py): asked again on a schedule until it arrives."""

    __tablename__ = "endorsement_requests"

    credential_id: str = Field(primary_key=True, foreign_key="credentials.id")
    institution: str = Field(primary_key=True)
    # The node that hosts the institution, by its id in the alliance registry.
    node: str
    requested_at: datetime = Field(sa_column=timestamp_column())
    attempts: int = 1
    # What the partner's node answered when it declined, the last time it did.
    declined_reason: str | None = None
    endorsed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class EndorsementRequestPublic(SQLModel):
    institution: str
    node: str
    requested_at: datetime
    attempts: int
    declined_reason: str | None


class GivenEndorsement(CertificationTable, table=True):
    """An EndorsementCredential this node signed, for an institution it hosts, of another node's joint credential:
    signed once; a request that comes again gets the same one."""

    __tablename__ = "given_endorsements"

    credential_id: str = Field(primary_key=True)
    institution: str = Field(primary_key=True)
    # The node of the lead institution, which asked.
    lead_node: str
    endorsement: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    signed_at: datetime = Field(sa_column=timestamp_column())


class ConsentedCourse(CertificationTable, table=True):
    """A version of another member's joint course that an institution of this node consented to co-award, at this
    node (the catalogue's JointCourseConsented), and when it withdrew (JointCourseConsentWithdrawn): what this node
    endorses, for credentials issued before any withdrawal."""

    __tablename__ = "consented_courses"

    lead_node: str = Field(primary_key=True)
    course_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    institution: str = Field(primary_key=True)
    # The awarding institutions' codes, the lead first, as consented to.
    institutions: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    consented_at: datetime = Field(sa_column=timestamp_column())
    withdrawn_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    withdrawal_reason: str | None = None



class PresentedPart(CertificationTable, table=True):
    """A credential (of any member's node, this one's too) a learner presented as a part of a programme of this node,
    verified here when presented (presented_parts.py). A programme credential it helps earn relies on it: its status
    is read again on a schedule, and when its issuer's node says it was revoked."""

    __tablename__ = "presented_parts"

    learner_id: str = Field(primary_key=True)
    # The credential's `id` as its issuer signed it (the URL of its record at the issuer's node).
    credential_id: str = Field(primary_key=True, index=True)
    course_id: str
    course_version: int
    # The issuer's DID, its institution and node in the alliance registry (None: this node's own).
    issuer: str
    institution: str | None = None
    node: str | None = None
    # The part's Annex I elements, for the presenting learner (domain.part_record).
    record: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    # The signed credential, exactly as presented: its status entries are read again from it.
    credential: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    presented_at: datetime = Field(sa_column=timestamp_column())
    # When its status was last read (at presentation, then on the schedule).
    checked_at: datetime = Field(sa_column=timestamp_column())
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class Reliance(CertificationTable, table=True):
    """Another node relies on a credential this node issued (it was presented there as a part of a programme,
    RelianceDeclared): that node is told when the credential is revoked, and no other node is."""

    __tablename__ = "reliances"

    credential_id: str = Field(primary_key=True, foreign_key="credentials.id")
    node: str = Field(primary_key=True)
    # This node's id, as the relying node addressed it (the sender of the notice).
    own_node: str
    relied_on_at: datetime = Field(sa_column=timestamp_column())


class PresentedPartPublic(SQLModel):
    credential_id: str
    course_id: str
    title: str
    ects: float
    issuer: str
    institution: str | None
    node: str | None
    status: str  # valid or revoked


class Presentation(SQLModel):
    """What presenting parts for a programme came to: the parts this node holds for it, whether its rule is met, and
    the programme credential when it is."""

    programme_id: str
    # all-of / n-of / min-ects, and the courses it names.
    rule: dict[str, Any]
    parts: list[PresentedPartPublic]
    complete: bool
    credential: CredentialPublic | None


CredentialPublic.model_rebuild()
