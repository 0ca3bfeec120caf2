"""SQL over the event log: the stream's next page (the figures are kept apart, in figures.py)."""

from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

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
