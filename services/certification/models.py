"""The certification service's tables: credentials, and its read model of approved course versions."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
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


class MicroCredentialRecord(SQLModel):
    """Every mandatory element of Annex I of the Council Recommendation of 16 June 2022, and the optional ones we hold."""

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
    # One credential per learner and course version: a grade delivered twice issues once.
    __table_args__ = (UniqueConstraint("learner_id", "course_id", "course_version", name="uq_credentials_learner_course"),)

    id: str = Field(primary_key=True)
    learner_id: str = Field(index=True)
    course_id: str
    course_version: int
    grade_id: str
    record: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    issued_at: datetime = Field(sa_column=timestamp_column())


class CredentialPublic(SQLModel):
    id: str
    learner_id: str
    course_id: str
    course_version: int
    issued_at: datetime
    # Not yet signed: the Verifiable Credential with its proof comes with the signing work.
    signed: bool = False
    record: MicroCredentialRecord
