"""The notifications service's tables: one delivery per event and recipient, from recorded to sent (or failed)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from shared.db import service_table_base, timestamp_column, utcnow

NotificationsTable = service_table_base()


class DeliveryStatus(StrEnum):
    # Recorded, waiting for the worker (first attempt, or a retry after a transient failure at next_attempt_at).
    PENDING = "pending"
    # Claimed by a worker (or recorded claimed for the worker of the consumer's process), which sends it; if that
    # worker dies, another sends again once next_attempt_at (the claim's lease) has passed, with the same Message-ID.
    SENDING = "sending"
    SENT = "sent"
    # For good: the relay refused it permanently (5xx), or transient failures went on past the attempts or the age.
    FAILED = "failed"


class DeliveryBase(SQLModel):
    # The CloudEvent the learner was told about; with the recipient, what makes an email unique (and indexed).
    about_event_id: str
    about_event_type: str
    recipient: str = Field(index=True)
    subject: str
    template: str
    language: str = "en"
    # Stable per event and recipient: a resend after a crash carries the same one, so mail systems can tell.
    message_id: str
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_column=Column(String, nullable=False))
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    sent_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class Delivery(DeliveryBase, NotificationsTable, table=True):
    __tablename__ = "deliveries"

    id: str = Field(primary_key=True)
    # For optional emails: the learner's one-click unsubscribe link (also in the List-Unsubscribe header); not shown
    # by the API, since whoever holds it can unsubscribe the learner.
    unsubscribe_url: str | None = None
    # The trace of the event this email is about: the worker continues it, so the email belongs to the journey's trace.
    traceparent: str | None = None
    # The email as rendered when the event arrived: every attempt sends exactly the same one.
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))


class DeliveryPublic(DeliveryBase):
    id: str


class Preference(NotificationsTable, table=True):
    """A learner's choice about optional emails (everything but a credential's issue or revocation)."""

    __tablename__ = "preferences"

    # The learner's id (their token's subject, `learner.learner_id` in events).
    learner_id: str = Field(primary_key=True)
    optional_emails: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class PreferenceUpdate(SQLModel):
    optional_emails: bool


class PreferencePublic(SQLModel):
    learner_id: str
    optional_emails: bool


class SigningSecret(NotificationsTable, table=True):
    """The secret that signs unsubscribe links, made by the migration: the same for every instance, no setup needed
    (UNSUBSCRIBE_SECRET overrides it)."""

    __tablename__ = "signing_secrets"

    name: str = Field(primary_key=True)
    secret: str
