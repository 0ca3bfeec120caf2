"""The deliveries this process's consumer has recorded, handed to its delivery worker by id.

The worker used to find new deliveries by scanning the due-deliveries index after each NOTIFY. Every email leaves dead
entries in that index (recorded, claimed, sent), which go only when PostgreSQL vacuums, so each scan walks over the
emails of the last minute or so: recording, claiming and sending in a loop, nothing else running, a claim took 6 ms on
average over the first 5,500 emails and 21 ms from 22,000 to 27,600. Claimed by primary key, a fresh delivery costs
the same however many came before it. (In a 10,000-learner cohort the claims cost PostgreSQL about as much either
way, 2-3 s in all: there, updating the rows dominates; pg_stat_statements.) The scan stays for what no one hands
over: retries that come due, leases that run out, deliveries another process recorded, and ids a failed claim took
(their rows are still pending).
"""

from collections.abc import Callable, Iterable

# Ids held for the worker at most; beyond that they wait for its next scan (it polls every DELIVERY_POLL_SECONDS).
HELD = 10_000


class RecordedDeliveries:
    """Ids of committed deliveries waiting for this process's worker to claim them, oldest first."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._arrived: Callable[[], None] = lambda: None

    def when_added(self, arrived: Callable[[], None]) -> None:
        """Called by the worker: `arrived()` whenever ids are added."""
        self._arrived = arrived

    def add(self, ids: Iterable[str]) -> None:
        """Called once the transaction that recorded them has committed (only then can they be claimed)."""
        room = HELD - len(self._ids)
        self._ids.extend(list(ids)[:room] if room > 0 else [])
        self._arrived()

    def take(self, limit: int) -> list[str]:
        taken, self._ids = self._ids[:limit], self._ids[limit:]
        return taken

    def __len__(self) -> int:
        return len(self._ids)

