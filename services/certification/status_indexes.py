"""Status list indexes for new credentials: random, unique, and taken by several instances without waiting for each other.

Each credential holds an index of its institution's status lists, chosen at random among the free ones (status_lists.py
says why). Choosing under a lock per institution made two instances of the service issue by turns. Instead, each
process reserves indexes ahead, a batch at a time: random candidates inserted into `status_index_reservations`, whose
primary key lets each index be reserved once, in a short transaction of its own that commits at once (so a batch of
grades that rolls back never frees an index another instance could then reserve too). Indexes are handed out in
random order; the unique constraint on credentials stays behind it. An index reserved by a process that stops before
using it stays unused: a zero bit in the lists, which is harmless.
"""

import asyncio
import secrets

from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from services.certification.status_lists import ListFull

# How many indexes a process reserves at a time: few round trips, few indexes left unused when it stops.
RESERVE = 256

RESERVING = text(
    "INSERT INTO status_index_reservations (institution, status_index) "
    "SELECT :institution, unnest(:candidates) ON CONFLICT DO NOTHING RETURNING status_index"
).bindparams(bindparam("institution", type_=String), bindparam("candidates", type_=ARRAY(Integer)))
FREE = text(
    "SELECT index FROM generate_series(0, :length - 1) AS index EXCEPT "
    "SELECT status_index FROM status_index_reservations WHERE institution = :institution"
)


class StatusIndexes:
    """The indexes this process reserved and has not used yet, per institution."""

    def __init__(self) -> None:
        self._free: dict[str, list[int]] = {}
        self._reserving = asyncio.Lock()

    async def take(self, engine: AsyncEngine, institution: str, length: int) -> int:
        """A reserved index of the institution, unused so far (raises status_lists.ListFull)."""
        free = self._free.setdefault(institution, [])
        if not free:
            async with self._reserving:
                if not free:
                    free += await self._reserve(engine, institution, length)
        return free.pop()

    @staticmethod
    async def _reserve(engine: AsyncEngine, institution: str, length: int) -> list[int]:
        draw = secrets.SystemRandom()
        async with engine.begin() as connection:
            candidates = draw.sample(range(length), min(RESERVE, length))
            reserved = list((await connection.execute(RESERVING, {"institution": institution, "candidates": candidates})).scalars())
            if len(reserved) < len(candidates) // 4:
                # Mostly taken: choose among the free ones (a list that is nearly full).
                free = list((await connection.execute(FREE, {"length": length, "institution": institution})).scalars())
                if not free and not reserved:
                    raise ListFull(f"all {length} entries are taken")
                chosen = draw.sample(free, min(RESERVE, len(free)))
                reserved += (await connection.execute(RESERVING, {"institution": institution, "candidates": chosen})).scalars()
        draw.shuffle(reserved)
        return reserved
