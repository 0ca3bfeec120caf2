"""The dashboards' figures kept as events arrive (services/notifications/dashboards/figures.py), counted once here
from the events logged before.

Revision ID: 0005_h12
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_h12"
down_revision = "0004"

T = "eu.microcredentials."


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "dashboard_offerings",
        sa.Column("offering_id", sa.String, primary_key=True),
        sa.Column("title", sa.String),
        sa.Column("university", sa.String),
        sa.Column("capacity", sa.Integer),
        # Only offerings whose OfferingOpened arrived are shown (their enrolments may come first).
        sa.Column("opened", sa.Boolean, nullable=False, server_default="false"),
        _counter("applications"), _counter("enrolled"), _counter("waitlisted"),
    )
    # "" stands for an unknown university: a primary key cannot hold NULL.
    op.create_table(
        "dashboard_pass_rates",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("university", sa.String, primary_key=True),
        _counter("graded"), _counter("passed"),
    )
    op.create_table(
        "dashboard_credentials",
        sa.Column("university", sa.String, primary_key=True),
        sa.Column("month", sa.String, primary_key=True),
        _counter("issued"),
    )
    op.create_table(
        "dashboard_passes",
        sa.Column("learner_id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dashboard_grade_to_credential",
        sa.Column("university", sa.String, primary_key=True),
        _counter("credentials"),
        sa.Column("total_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("max_seconds", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "dashboard_grade_to_credential_buckets",
        sa.Column("university", sa.String, primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True),
        _counter("credentials"),
    )
    op.create_table(
        "dashboard_emails",
        sa.Column("university", sa.String, primary_key=True),
        _counter("sent"), _counter("failed"),
    )
    op.execute(f"""
        INSERT INTO dashboard_offerings (offering_id, title, university, capacity, opened)
        SELECT DISTINCT ON (data->>'offering_id') data->>'offering_id', data->>'title', university,
               (data->>'capacity')::int, true
        FROM event_log WHERE type = '{T}catalogue.offering.opened.v1' ORDER BY data->>'offering_id', sequence DESC
    """)
    op.execute(f"""
        INSERT INTO dashboard_offerings AS o (offering_id, applications, enrolled, waitlisted)
        SELECT data->>'offering_id',
               count(*) FILTER (WHERE type = '{T}enrolment.learner.enrolled.v1'
                                  AND NOT coalesce((data->>'promoted_from_waitlist')::boolean, false)
                                OR type = '{T}enrolment.learner.waitlisted.v1'),
               count(*) FILTER (WHERE type = '{T}enrolment.learner.enrolled.v1')
                 - count(*) FILTER (WHERE type = '{T}enrolment.enrolment.withdrawn.v1'
                                      AND (data->>'was_enrolled')::boolean),
               count(*) FILTER (WHERE type = '{T}enrolment.learner.waitlisted.v1')
                 - count(*) FILTER (WHERE type = '{T}enrolment.learner.enrolled.v1'
                                      AND coalesce((data->>'promoted_from_waitlist')::boolean, false))
                 - count(*) FILTER (WHERE type = '{T}enrolment.enrolment.withdrawn.v1'
                                      AND NOT (data->>'was_enrolled')::boolean)
        FROM event_log WHERE type LIKE '{T}enrolment.%' AND data->>'offering_id' IS NOT NULL GROUP BY 1
        ON CONFLICT (offering_id) DO UPDATE SET applications = EXCLUDED.applications, enrolled = EXCLUDED.enrolled,
            waitlisted = EXCLUDED.waitlisted
    """)
    op.execute(f"""
        INSERT INTO dashboard_pass_rates (course_id, university, graded, passed)
        SELECT data->>'course_id', coalesce(university, ''), count(*), count(*) FILTER (WHERE (data->>'passed')::boolean)
        FROM event_log WHERE type = '{T}assessment.grade.recorded.v1' GROUP BY 1, 2
    """)
    op.execute(f"""
        INSERT INTO dashboard_credentials (university, month, issued)
        SELECT coalesce(university, 'unknown'), to_char(time AT TIME ZONE 'UTC', 'YYYY-MM'), count(*)
        FROM event_log WHERE type = '{T}certification.credential.issued.v1' GROUP BY 1, 2
    """)
    op.execute(f"""
        INSERT INTO dashboard_passes (learner_id, course_id, time)
        SELECT data->>'learner_id', data->>'course_id', max(time)
        FROM event_log WHERE type = '{T}assessment.grade.recorded.v1' AND (data->>'passed')::boolean GROUP BY 1, 2
    """)
    timed = f"""
        SELECT coalesce(c.university, '') AS university, extract(epoch FROM c.time - g.time) AS seconds
        FROM event_log c
        JOIN LATERAL (
            SELECT time FROM event_log g
            WHERE g.type = '{T}assessment.grade.recorded.v1' AND (g.data->>'passed')::boolean
              AND g.data->>'learner_id' = c.data->>'learner_id' AND g.data->>'course_id' = c.data->>'course_id'
              AND g.time <= c.time
            ORDER BY g.time DESC LIMIT 1
        ) g ON true
        WHERE c.type = '{T}certification.credential.issued.v1'
    """
    op.execute(f"""
        INSERT INTO dashboard_grade_to_credential (university, credentials, total_seconds, max_seconds)
        SELECT university, count(*), sum(seconds), max(seconds) FROM ({timed}) t GROUP BY 1
    """)
    op.execute(f"""
        INSERT INTO dashboard_grade_to_credential_buckets (university, bucket, credentials)
        SELECT university, greatest(0, ceil(ln(greatest(seconds, 0.01) / 0.01) / ln(1.01)))::int, count(*)
        FROM ({timed}) t GROUP BY 1, 2
    """)
    op.execute(f"""
        INSERT INTO dashboard_emails (university, sent, failed)
        SELECT coalesce(university, ''),
               count(*) FILTER (WHERE type = '{T}notifications.notification.sent.v1'),
               count(*) FILTER (WHERE type = '{T}notifications.notification.failed.v1')
        FROM event_log WHERE type LIKE '{T}notifications.%' GROUP BY 1
    """)


def downgrade() -> None:
    for table in ("dashboard_emails", "dashboard_grade_to_credential_buckets", "dashboard_grade_to_credential",
                  "dashboard_passes", "dashboard_credentials", "dashboard_pass_rates", "dashboard_offerings"):
        op.drop_table(table)
