"""SQL over the event log: the stream's next page, and the figures the alliance's staff ask about."""

from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

T = "eu.microcredentials."

# Only events whose recording transaction is older than every transaction still running: one committed later with a
# lower sequence cannot be skipped by a client that already saw a higher one.
NEXT_EVENTS = text(
    """
    SELECT sequence, type, event_id, source, subject, university, time, data
    FROM event_log
    WHERE sequence > :after
      AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
      AND (cardinality(CAST(:types AS text[])) = 0 OR type = ANY(CAST(:types AS text[])))
      AND (cardinality(CAST(:universities AS text[])) = 0 OR university = ANY(CAST(:universities AS text[])))
    ORDER BY sequence
    LIMIT :limit
    """
)


async def next_events(
    session: AsyncSession, after: int, types: list[str], universities: list[str], limit: int = 500
) -> list[Any]:
    result = await session.execute(
        NEXT_EVENTS, {"after": after, "types": types, "universities": universities, "limit": limit}
    )
    return list(result.mappings().all())


OFFERINGS = text(
    f"""
    WITH offered AS (
        SELECT data->>'offering_id' AS offering_id, data->>'title' AS title, university,
               (data->>'capacity')::int AS capacity
        FROM event_log WHERE type = '{T}catalogue.offering.opened.v1'
    ), enrolment AS (
        SELECT data->>'offering_id' AS offering_id,
               count(*) FILTER (WHERE type = '{T}enrolment.learner.enrolled.v1'
                                  AND NOT coalesce((data->>'promoted_from_waitlist')::boolean, false)
                                OR type = '{T}enrolment.learner.waitlisted.v1') AS applications,
               count(*) FILTER (WHERE type = '{T}enrolment.learner.enrolled.v1')
                 - count(*) FILTER (WHERE type = '{T}enrolment.enrolment.withdrawn.v1'
                                      AND (data->>'was_enrolled')::boolean) AS enrolled,
               count(*) FILTER (WHERE type = '{T}enrolment.learner.waitlisted.v1')
                 - count(*) FILTER (WHERE type = '{T}enrolment.learner.enrolled.v1'
                                      AND coalesce((data->>'promoted_from_waitlist')::boolean, false))
                 - count(*) FILTER (WHERE type = '{T}enrolment.enrolment.withdrawn.v1'
                                      AND NOT (data->>'was_enrolled')::boolean) AS waitlisted
        FROM event_log WHERE type LIKE '{T}enrolment.%' GROUP BY 1
    )
    SELECT o.offering_id, o.title, o.university, o.capacity,
           coalesce(e.applications, 0) AS applications, coalesce(e.enrolled, 0) AS enrolled,
           coalesce(e.waitlisted, 0) AS waitlisted,
           CASE WHEN o.capacity > 0 THEN round(coalesce(e.enrolled, 0)::numeric / o.capacity, 3) END AS fill_rate
    FROM offered o LEFT JOIN enrolment e USING (offering_id)
    WHERE (CAST(:university AS text) IS NULL OR o.university = :university)
    ORDER BY o.title
    """
)

PASS_RATES = text(
    f"""
    SELECT data->>'course_id' AS course_id, university, count(*) AS graded,
           count(*) FILTER (WHERE (data->>'passed')::boolean) AS passed,
           round(count(*) FILTER (WHERE (data->>'passed')::boolean)::numeric / count(*), 3) AS pass_rate
    FROM event_log WHERE type = '{T}assessment.grade.recorded.v1'
      AND (CAST(:university AS text) IS NULL OR university = :university)
    GROUP BY 1, 2 ORDER BY 1
    """
)

CREDENTIALS_PER_MONTH = text(
    f"""
    SELECT coalesce(university, 'unknown') AS university, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
           count(*) AS issued
    FROM event_log WHERE type = '{T}certification.credential.issued.v1'
      AND (CAST(:university AS text) IS NULL OR university = :university)
    GROUP BY 1, 2 ORDER BY 2, 1
    """
)

GRADE_TO_CREDENTIAL = text(
    f"""
    SELECT count(*) AS credentials,
           round(avg(extract(epoch FROM c.time - g.time))::numeric, 3) AS average_seconds,
           round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.time - g.time)))::numeric, 3)
             AS median_seconds,
           round(max(extract(epoch FROM c.time - g.time))::numeric, 3) AS max_seconds
    FROM event_log c
    JOIN LATERAL (
        SELECT time FROM event_log g
        WHERE g.type = '{T}assessment.grade.recorded.v1' AND (g.data->>'passed')::boolean
          AND g.data->>'learner_id' = c.data->>'learner_id' AND g.data->>'course_id' = c.data->>'course_id'
          AND g.time <= c.time
        ORDER BY g.time DESC LIMIT 1
    ) g ON true
    WHERE c.type = '{T}certification.credential.issued.v1'
      AND (CAST(:university AS text) IS NULL OR c.university = :university)
    """
)

EMAILS = text(
    f"""
    SELECT count(*) FILTER (WHERE type = '{T}notifications.notification.sent.v1') AS sent,
           count(*) FILTER (WHERE type = '{T}notifications.notification.failed.v1') AS failed
    FROM event_log WHERE type LIKE '{T}notifications.%'
      AND (CAST(:university AS text) IS NULL OR university = :university)
    """
)


async def figures(session: AsyncSession, university: str | None) -> dict[str, Any]:
    async def rows(query: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in (await session.execute(query, {"university": university})).mappings().all()]

    return {
        "university": university,
        "offerings": await rows(OFFERINGS),
        "pass_rates": await rows(PASS_RATES),
        "credentials_per_month": await rows(CREDENTIALS_PER_MONTH),
        "grade_to_credential": (await rows(GRADE_TO_CREDENTIAL))[0],
        "emails": (await rows(EMAILS))[0],
    }
