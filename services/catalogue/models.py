"""The catalogue's tables and its HTTP bodies (SQLModel families: Base, Create, Public)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field as PydanticField
from sqlalchemy import Column, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.db import timestamp_column, utcnow
from shared.events.catalogue import MicroCredentialDescription


class CourseStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class Course(SQLModel, table=True):
    __tablename__ = "courses"

    id: str = Field(primary_key=True)
    version: int = 1
    status: CourseStatus = Field(default=CourseStatus.DRAFT, sa_column=Column(String, nullable=False, index=True))
    description: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    designed_by: str
    reviewed_by: str | None = None
    rejection_reasons: list[str] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class CourseCreate(SQLModel):
    designed_by: str = PydanticField(min_length=1, description="The course designer (becomes the authenticated user).")
    description: MicroCredentialDescription


class CourseApprove(SQLModel):
    reviewed_by: str = PydanticField(min_length=1, description="The QA officer; never the course's designer.")


class CourseReject(CourseApprove):
    reasons: list[str] = PydanticField(min_length=1)


class CoursePublic(SQLModel):
    id: str
    version: int
    status: CourseStatus
    description: MicroCredentialDescription
    designed_by: str
    reviewed_by: str | None
    rejection_reasons: list[str] | None
    created_at: datetime
    updated_at: datetime
