"""A node that joins the alliance may publish its listings before this node has reloaded the registry that lists it:
the secretariat signs the new registry, every node takes it within its ALLIANCE_REGISTRY_POLL_SECONDS, and the new
node starts meanwhile. Dead-lettering those listings would lose the newcomer's catalogue here (the gateway's group
moves past them), so the gateway holds them instead: the consumer waits, re-reading the registry about once a second,
until the registry lists the node (the listings are then checked again and taken in, in order) or until
ALLIANCE_JOINING_HOLD_SECONDS have passed (then it is dead-lettered as from a non-member, and so are the node's further
listings, at once, until a registry lists it). While it holds, the gateway takes in no other listing either:
the wait is bounded, and order per topic is kept. A node that was in an earlier registry and left is not held: its
listings are refused at once.

Logged when a hold starts and ends; counted in `mc_alliance_listings_held_total{outcome}` (taken, dead-lettered).
"""

import asyncio
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter
from starlette.datastructures import State

from shared.alliance import AllianceRegistry, NotAMember, registry_in_use

log = logging.getLogger(__name__)

# How often the registry is re-read while a listing is held.
RECHECK_SECONDS = 1.0


class JoiningNodes:
    """The hold of listings from nodes the registry in use does not list (EventConsumer's `hold_unknown_node`)."""

    def __init__(
        self, state: State, hold_seconds: float, registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.hold_seconds = hold_seconds
        self.clock = clock
        self._given_up: set[str] = set()  # nodes whose hold ended: their listings are not held again
        self._ever_listed: set[str] = set()  # nodes of every registry in use so far (a node that left is not held)
        self._remembered_serial: int | None = None
        self.held = Counter(
            "mc_alliance_listings_held",
            "Listings of a node the registry in use did not list, held while the registry was re-read, by outcome: "
            "taken (a reloaded registry listed the node), dead-lettered (it did not within ALLIANCE_JOINING_HOLD_SECONDS)",
            ["outcome"],
            registry=registry,
        )

    async def hold(self, node: str) -> bool:
        """True once the registry in use lists `node`; False when it did not within the node's hold."""
        if node in self._ever_listed and not _lists(self._registry(), node):
            return False  # a member that left the registry: refused at once, not held
        if node in self._given_up and not _lists(self._registry(), node):
            self.held.labels("dead-lettered").inc()
            return False
        deadline = self.clock() + self.hold_seconds
        log.warning(
            "a listing of node %s, which alliance registry serial %s does not list: held (the registry re-read) for "
            "up to %g s, in case the node has just joined", node, _serial(self._registry()), self.hold_seconds,
        )
        while True:
            if _lists(self._registry(), node):
                self._given_up.discard(node)
                log.info("node %s is in alliance registry serial %s now: its held listings are taken in", node,
                         _serial(self._registry()))
                self.held.labels("taken").inc()
                return True
            left = deadline - self.clock()
            if left <= 0:
                self._given_up.add(node)
                log.error("node %s is still not in the alliance registry after %g s: its listings are dead-lettered "
                          "until a registry lists it", node, self.hold_seconds)
                self.held.labels("dead-lettered").inc()
                return False
            watcher = getattr(self.state, "alliance", None)
            if watcher is not None:
                await watcher.refresh()
            if not _lists(self._registry(), node):
                await asyncio.sleep(min(RECHECK_SECONDS, left))

    def registry(self) -> AllianceRegistry | None:
        """The registry in use (what the gateway's consumer checks each message against), remembering its nodes."""
        current = registry_in_use(self.state)
        if current is not None and current.serial != self._remembered_serial:
            self._remembered_serial = current.serial
            self._ever_listed.update(each.id for each in current.nodes)
        return current

    def _registry(self) -> AllianceRegistry | None:
        return self.registry()


def _lists(registry: AllianceRegistry | None, node: str) -> bool:
    if registry is None:
        return False
    try:
        registry.node(node)
    except NotAMember:
        return False
    return True


def _serial(registry: AllianceRegistry | None) -> str:
    return str(registry.serial) if registry else "(none)"
