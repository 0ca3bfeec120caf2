"""The figures staff ask about, kept as the events arrive: a few rows per offering, course, university and month, which
`GET /dashboard/figures` reads without looking at the event log (1,000,000 events or ten: the same few rows).

Each batch of events adds what it changes (dashboards/domain.py `tally`) in the transaction that logs the events, as
one statement per table at its commit; a redelivered event is never counted twice, since the consumer's claim is in
the same transaction. Migration 0005_h12 counted the events logged before.
"""

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.dashboards.domain import FigureChanges, bucket_of, seconds_of, tally
from shared.db import UnitOfWork, among
from shared.events import CloudEvent

KEY = "dashboard figures"
# The passes' table, as much of it as a statement built with shared.db.among needs (migration 0005 makes it).
_PASSES = sa.table(
    "dashboard_passes",
    sa.column("learner_id", sa.String), sa.column("course_id", sa.String), sa.column("time", sa.DateTime(timezone=True)),
)


def count(uow: UnitOfWork, envelope: CloudEvent, university: str | None) -> None:
    """Count the event into the transaction's changes, which are written when it commits."""
    changes = uow.cache.get(KEY)
    if changes is None:
        changes = uow.cache[KEY] = FigureChanges()
        uow.before_commit(lambda: save(uow.session, changes))
    tally(changes, envelope.type, envelope.data, university, envelope.time)


async def save(session: AsyncSession, changes: FigureChanges) -> None:
    async def upsert(statement: str, rows: Iterable[dict[str, Any]]) -> None:
        # In the order of their keys (the first columns): two instances counting into the same rows then wait for
        # each other instead of deadlocking.
        if rows := sorted(rows, key=lambda row: [str(value) for value in row.values()]):
            await session.execute(sa.text(statement), rows)

    await upsert(
        "INSERT INTO dashboard_offerings (offering_id, title, university, capacity, opened) "
        "VALUES (:offering_id, :title, :university, :capacity, true) ON CONFLICT (offering_id) DO UPDATE SET "
        "title = EXCLUDED.title, university = EXCLUDED.university, capacity = EXCLUDED.capacity, opened = true",
        ({"offering_id": offering_id} | terms for offering_id, terms in changes.offerings_opened.items()),
    )
    offerings: dict[str, dict[str, int]] = {}
    for (offering_id, column), change in changes.offerings.items():
        offerings.setdefault(offering_id, {"applications": 0, "enrolled": 0, "waitlisted": 0})[column] += change
    await upsert(
        "INSERT INTO dashboard_offerings AS o (offering_id, applications, enrolled, waitlisted) "
        "VALUES (:offering_id, :applications, :enrolled, :waitlisted) ON CONFLICT (offering_id) DO UPDATE SET "
        "applications = o.applications + EXCLUDED.applications, enrolled = o.enrolled + EXCLUDED.enrolled, "
        "waitlisted = o.waitlisted + EXCLUDED.waitlisted",
        ({"offering_id": offering_id} | counts for offering_id, counts in offerings.items()),
    )
    rates: dict[tuple[str, str], dict[str, int]] = {}
    for (course_id, university, column), change in changes.pass_rates.items():
        rates.setdefault((course_id, university), {"graded": 0, "passed": 0})[column] += change
    await upsert(
        "INSERT INTO dashboard_pass_rates AS p (course_id, university, graded, passed) "
        "VALUES (:course_id, :university, :graded, :passed) ON CONFLICT (course_id, university) DO UPDATE SET "
        "graded = p.graded + EXCLUDED.graded, passed = p.passed + EXCLUDED.passed",
        ({"course_id": course_id, "university": university} | counts for (course_id, university), counts in rates.items()),
    )
    await upsert(
        "INSERT INTO dashboard_credentials AS c (university, month, issued) VALUES (:university, :month, :issued) "
        "ON CONFLICT (university, month) DO UPDATE SET issued = c.issued + EXCLUDED.issued",
        ({"university": university, "month": month, "issued": n} for (university, month), n in changes.credentials.items()),
    )
    await upsert(
        "INSERT INTO dashboard_passes AS p (learner_id, course_id, time) VALUES (:learner_id, :course_id, :time) "
        "ON CONFLICT (learner_id, course_id) DO UPDATE SET time = greatest(p.time, EXCLUDED.time)",
        ({"learner_id": learner, "course_id": course, "time": time} for (learner, course), time in changes.passes.items()),
    )
    await _grade_to_credential(session, changes, upsert)
    emails: dict[str, dict[str, int]] = {}
    for (university, column), change in changes.emails.items():
        emails.setdefault(university, {"sent": 0, "failed": 0})[column] += change
    await upsert(
        "INSERT INTO dashboard_emails AS e (university, sent, failed) VALUES (:university, :sent, :failed) "
        "ON CONFLICT (university) DO UPDATE SET sent = e.sent + EXCLUDED.sent, failed = e.failed + EXCLUDED.failed",
        ({"university": university} | counts for university, counts in emails.items()),
    )


async def _grade_to_credential(session: AsyncSession, changes: FigureChanges, upsert: Any) -> None:
    """Each credential's time since the learner's latest pass of its course (written above, so a pass in the same
    batch counts); a credential without a pass (a programme's) is not timed."""
    if not changes.issued:
        return
    keys = [_PASSES.c.learner_id, _PASSES.c.course_id]
    passed = dict(
        ((row.learner_id, row.course_id), row.time)
        for row in await session.execute(
            sa.select(*keys, _PASSES.c.time).where(among(keys, [(learner, course) for learner, course, _, _ in changes.issued]))
        )
    )
    totals: dict[str, dict[str, float]] = {}
    buckets: dict[tuple[str, int], int] = {}
    for learner, course, university, issued_at in changes.issued:
        if (graded_at := passed.get((learner, course))) is None or graded_at > issued_at:
            continue
        seconds = (issued_at - graded_at).total_seconds()
        total = totals.setdefault(university, {"credentials": 0, "total_seconds": 0.0, "max_seconds": 0.0})
        total["credentials"] += 1
        total["total_seconds"] += seconds
        total["max_seconds"] = max(total["max_seconds"], seconds)
        buckets[(university, bucket_of(seconds))] = buckets.get((university, bucket_of(seconds)), 0) + 1
    await upsert(
        "INSERT INTO dashboard_grade_to_credential AS g (university, credentials, total_seconds, max_seconds) "
        "VALUES (:university, :credentials, :total_seconds, :max_seconds) ON CONFLICT (university) DO UPDATE SET "
        "credentials = g.credentials + EXCLUDED.credentials, total_seconds = g.total_seconds + EXCLUDED.total_seconds, "
        "max_seconds = greatest(g.max_seconds, EXCLUDED.max_seconds)",
        ({"university": university} | total for university, total in totals.items()),
    )
    await upsert(
        "INSERT INTO dashboard_grade_to_credential_buckets AS b (university, bucket, credentials) "
        "VALUES (:university, :bucket, :credentials) ON CONFLICT (university, bucket) DO UPDATE SET "
        "credentials = b.credentials + EXCLUDED.credentials",
        ({"university": u, "bucket": bucket, "credentials": n} for (u, bucket), n in buckets.items()),
    )


# --- reading them ---

ANY = "(CAST(:university AS text) IS NULL OR university = :university)"

OFFERINGS = sa.text(
    "SELECT offering_id, title, university, capacity, applications, enrolled, waitlisted, "
    "CASE WHEN capacity > 0 THEN round(enrolled::numeric / capacity, 3)::float8 END AS fill_rate "
    f"FROM dashboard_offerings WHERE opened AND {ANY} ORDER BY title"
)
PASS_RATES = sa.text(
    "SELECT course_id, nullif(university, '') AS university, graded, passed, "
    "round(passed::numeric / graded, 3)::float8 AS pass_rate "
    f"FROM dashboard_pass_rates WHERE graded > 0 AND {ANY} ORDER BY course_id"
)
CREDENTIALS_PER_MONTH = sa.text(
    f"SELECT university, month, issued FROM dashboard_credentials WHERE {ANY} ORDER BY month, university"
)
GRADE_TO_CREDENTIAL = sa.text(
    "SELECT coalesce(sum(credentials), 0) AS credentials, sum(total_seconds) AS total_seconds, "
    f"max(max_seconds) AS max_seconds FROM dashboard_grade_to_credential WHERE {ANY}"
)
GRADE_TO_CREDENTIAL_BUCKETS = sa.text(
    f"SELECT bucket, sum(credentials) AS credentials FROM dashboard_grade_to_credential_buckets WHERE {ANY} "
    "GROUP BY bucket ORDER BY bucket"
)
EMAILS = sa.text(
    f"SELECT coalesce(sum(sent), 0) AS sent, coalesce(sum(failed), 0) AS failed FROM dashboard_emails WHERE {ANY}"
)


async def read_figures(session: AsyncSession, university: str | None) -> dict[str, Any]:
    """The figures as plain JSON values (numbers as int or float: the route writes them out as they are)."""
    async def rows(query: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in (await session.execute(query, {"university": university})).mappings().all()]

    timing = (await rows(GRADE_TO_CREDENTIAL))[0]
    credentials = int(timing["credentials"])
    median = None
    if credentials:
        seen, half = 0, credentials / 2
        for row in await rows(GRADE_TO_CREDENTIAL_BUCKETS):
            seen += row["credentials"]
            if seen >= half:
                median = round(seconds_of(row["bucket"]), 3)
                break
    emails = (await rows(EMAILS))[0]
    return {
        "university": university,
        "offerings": await rows(OFFERINGS),
        "pass_rates": await rows(PASS_RATES),
        "credentials_per_month": await rows(CREDENTIALS_PER_MONTH),
        "grade_to_credential": {
            "credentials": credentials,
            "average_seconds": round(timing["total_seconds"] / credentials, 3) if credentials else None,
            # Within 1 %: read from the buckets the times are counted in.
            "median_seconds": median,
            "max_seconds": round(timing["max_seconds"], 3) if credentials else None,
        },
        "emails": {"sent": int(emails["sent"]), "failed": int(emails["failed"])},
    }
