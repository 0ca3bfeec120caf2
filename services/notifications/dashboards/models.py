"""The event log the dashboards read: one row per event of the node, in the order it was recorded."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.notifications.models import NotificationsTable
from shared.db import timestamp_column


class LoggedEvent(NotificationsTable, table=True):
    __tablename__ = "event_log"

    # The SSE event id; the recording transaction's id (column tx_id, set by PostgreSQL) is not mapped here.
    sequence: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    event_id: str = Field(unique=True)
    type: str = Field(index=True)
    source: str
    subject: str | None = None
    # The university the event concerns (an institution id), when it can be told; dashboards filter on it.
    university: str | None = Field(default=None, index=True)
    time: datetime = Field(sa_column=timestamp_column())
    data: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


class CourseUniversity(NotificationsTable, table=True):
    """Which university leads a course or an offering: later events (enrolments, grades) name only their ids."""

    __tablename__ = "dashboard_course_universities"

    aggregate_id: str = Field(primary_key=True)
    university: str
