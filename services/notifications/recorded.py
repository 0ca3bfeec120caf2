"""The deliveries this process's consumer records already claimed for its own delivery worker, handed over in memory.

The worker used to find new deliveries by scanning the due-deliveries index after each NOTIFY. Every email leaves dead
entries in that index (recorded, claimed, sent), which go only when PostgreSQL vacuums, so each scan walks over the
emails of the last minute or so: recording, claiming and sending in a loop, nothing else running, a claim took 6 ms on
average over the first 5,500 emails and 21 ms from 22,000 to 27,600. Claimed by primary key, a fresh delivery cost the
same however many came before it, but the claim still rewrote every row and brought both bodies back, which the
consumer had just rendered: so the consumer records a delivery its worker has room for as claimed already (`sending`,
first attempt, under a lease that starts when it is recorded), and hands the row to the worker once the transaction
commits. The worker sends it without asking the database again.

Such a claim is an ordinary one: if this process dies before the email is sent and recorded, another worker's scan
takes the delivery over once the lease has run out, with the same Message-ID; one whose lease runs out while it waits
here is not sent but given back (worker.py). The scan stays for what no one hands over: retries that come due, leases
that run out, deliveries another process recorded, and those recorded while the worker had no room.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notifications.models import DeliveryStatus

# Deliveries held for the worker at most, each a row with its bodies (a few KB as Python objects); beyond that they
# are recorded `pending` and wait for its next scan (it polls every DELIVERY_POLL_SECONDS).
HELD = 5_000


@dataclass(frozen=True)
class Handed:
    """A delivery claimed when it was recorded: its row as inserted, and when (time.monotonic()) its lease runs out."""

    delivery: dict[str, Any]
    deadline: float


class RecordedDeliveries:
    """Deliveries recorded claimed for this process's worker, waiting for it once committed, oldest first."""

    def __init__(self, lease_seconds: float) -> None:
        self._lease_seconds = lease_seconds
        self._handed: list[Handed] = []
        self._arrived: Callable[[], None] = lambda: None

    def when_added(self, arrived: Callable[[], None]) -> None:
        """Called by the worker: `arrived()` whenever deliveries are added."""
        self._arrived = arrived

    def claim(self, deliveries: list[dict[str, Any]], now: datetime) -> bool:
        """Mark the rows about to be recorded as claimed by this process's worker, when it has room for them."""
        if len(self._handed) >= HELD:
            return False
        lease_ends = now + timedelta(seconds=self._lease_seconds)
        for delivery in deliveries:
            delivery.update(status=DeliveryStatus.SENDING, attempts=1, next_attempt_at=lease_ends)
        return True

    def add(self, deliveries: Iterable[dict[str, Any]], claimed_at: float) -> None:
        """Called once the transaction that recorded them claimed has committed (only then may they be sent);
        `claimed_at` is time.monotonic() no later than the `now` their lease was counted from."""
        deadline = claimed_at + self._lease_seconds
        self._handed.extend(Handed(delivery, deadline) for delivery in deliveries)
        self._arrived()

    def take(self, limit: int) -> list[Handed]:
        taken, self._handed = self._handed[:limit], self._handed[limit:]
        return taken

    def __len__(self) -> int:
        return len(self._handed)
