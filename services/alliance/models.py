"""The gateway's tables: what it knows of its own node's public catalogue (to list it whole, again and again), and
the outbox of what leaves the node for the alliance bus.

The node's facts are kept as their events' data (JSON): the gateway only ever turns them back into those events and
builds listings from them (domain.py).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from shared.db import OutboxBase, service_table_base

GatewayTable = service_table_base()


class AllianceOutboxMessage(OutboxBase, table=True):
    """What leaves the node for the alliance bus, written in the transaction that changed what it lists, published to
    the alliance's cluster by the gateway's second relay (services/alliance/bus.py)."""

    __tablename__ = "alliance_outbox"


class ApprovedCourseVersion(GatewayTable, table=True):
    """An approved version of one of the node's courses (CourseApproved), and when it was retired, if it was."""

    __tablename__ = "course_versions"

    course_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    approved: dict[str, Any] = Field(sa_type=JSONB)
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class OpenedOffering(GatewayTable, table=True):
    """One of the node's offerings (OfferingOpened: the latest terms)."""

    __tablename__ = "offerings"

    offering_id: str = Field(primary_key=True)
    course_id: str = Field(index=True)
    course_version: int
    opened: dict[str, Any] = Field(sa_type=JSONB)


class OfferingPlaces(GatewayTable, table=True):
    """An offering's places as enrolment last told (OfferingAvailabilityChanged); it may arrive before the offering."""

    __tablename__ = "places"

    offering_id: str = Field(primary_key=True)
    availability: dict[str, Any] = Field(sa_type=JSONB)


class ApprovedProgramme(GatewayTable, table=True):
    """One of the node's programmes, its newest approved version (ProgrammeApproved)."""

    __tablename__ = "programmes"

    programme_id: str = Field(primary_key=True)
    version: int
    approved: dict[str, Any] = Field(sa_type=JSONB)
