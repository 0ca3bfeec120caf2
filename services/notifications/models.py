"""The notifications service's tables: one row per email sent."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from shared.db import service_table_base, timestamp_column, utcnow


NotificationsTable = service_table_base()


class Delivery(NotificationsTable, table=True):
    __tablename__ = "deliveries"

    id: str = Field(primary_key=True)
    # The CloudEvent the learner was told about; with the recipient, what makes an email unique.
    about_event_id: str = Field(index=True)
    about_event_type: str
    recipient: str = Field(index=True)
    subject: str
    template: str
    sent_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
