"""The front end's own tables: signed-in sessions (with the identity provider's tokens, which never reach the
browser), sign-ins under way, and the secret that signs forms."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from shared.db import service_table_base, timestamp_column

WebTable = service_table_base()


class WebSession(WebTable, table=True):
    """A person signed in in one browser. The browser holds only a random cookie; `id` is its SHA-256, so that the
    table alone lets nobody act as anyone."""

    __tablename__ = "sessions"

    id: str = Field(primary_key=True)
    subject: str = Field(index=True)
    # Who the identity provider says they are (the ID token's claims), for the pages.
    claims: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    access_token: str
    access_expires_at: datetime = Field(sa_column=timestamp_column())
    refresh_token: str | None = None
    # Sent back to the identity provider when signing out (RP-initiated logout's id_token_hint).
    id_token: str
    language: str | None = None
    created_at: datetime = Field(sa_column=timestamp_column())
    last_seen_at: datetime = Field(sa_column=timestamp_column())


class SignIn(WebTable, table=True):
    """A sign-in under way: what the callback from the identity provider must match (RFC 9700: state, PKCE, nonce),
    and the browser it started in."""

    __tablename__ = "sign_ins"

    state: str = Field(primary_key=True)
    browser: str
    code_verifier: str
    nonce: str
    return_to: str
    created_at: datetime = Field(sa_column=timestamp_column())


class SigningSecret(WebTable, table=True):
    __tablename__ = "signing_secrets"

    name: str = Field(primary_key=True)
    secret: str


class GradeUpload(WebTable, table=True):
    """A cohort's grades uploaded as CSV by an assessor, and what became of each line so far: kept here, not in one
    process's memory, so that every front-end process shows it and a restart forgets nothing already judged."""

    __tablename__ = "grade_uploads"

    id: str = Field(primary_key=True)
    course_id: str = Field(index=True)
    owner: str = Field(index=True)
    filename: str
    header: str
    # [line number in the file, the line's text], the grades in the order of the file.
    lines: list[Any] = Field(sa_column=Column(JSONB, nullable=False))
    # What assessment made of each line processed (grade_uploads.LineResult's fields).
    results: list[Any] = Field(sa_column=Column(JSONB, nullable=False))
    stopped: str | None = None
    finished: bool = False
    started_at: datetime = Field(sa_column=timestamp_column())
    # Moved on after every part: an unfinished upload that has not moved for a while was cut off by a restart.
    updated_at: datetime = Field(sa_column=timestamp_column())
