"""Worker processes for proof work: canonicalizing a credential (RDFC-1.0) is pure Python and holds the interpreter
for milliseconds to seconds, which in the service's own process would stop its event loop (HTTP, PostgreSQL, Kafka).

Signing (signing.py) and verifying (proof_checks.py) share one pool, each kind of work in a queue of its own, and the
pool takes from the queues in turn: a cohort's issuing delays an employer's check by a job or two at most, and a
burst of public verifications cannot stop issuing. (A pool each kept ~50 MB of a second idle interpreter on a node
that mostly issues, and left one of them idle whenever the other was busy.)
"""

import asyncio
import collections
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

# For annotations only: the workers load this module (their initializer is here), and need nothing of the web layer.
if TYPE_CHECKING:
    from starlette.datastructures import State

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends

Result = TypeVar("Result")


def warm_up() -> None:
    """Imports and JSON-LD context caches, before the first job waits for them."""
    from services.certification.vc import proof
    from services.certification.vc.contexts import CREDENTIAL_CONTEXT

    proof.canonicalize({"@context": CREDENTIAL_CONTEXT, "type": ["VerifiableCredential", "OpenBadgeCredential"]})


def _start(service: int) -> None:
    """A worker's start: it ends with the service's process, even one killed with SIGKILL (no clean-up runs then, and
    the pool's workers lived on as orphans, each with its own memory), then warms up."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != service:  # The service died before the line above.
            os._exit(0)
    warm_up()


class WorkerProcesses:
    """A pool of worker processes, started on first use (or by `run`) and stopped by `run`; 0 processes runs each
    job in the calling process (tests, to start quickly).

    Jobs wait in a queue per kind of work, and only as many as keep the workers busy (one each, and one ready) are
    handed to the pool at a time, taken from the kinds in turn."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: dict[str, collections.deque[tuple[Callable[[Any], Any], Any, asyncio.Future[Any]]]] = {}
        self._last_kind = ""
        self._handed_out = 0

    def submit(self, job: Callable[[Any], Result], argument: Any, kind: str) -> "asyncio.Future[Result]":
        """The job's result, as a future: awaiting it lets the caller do other work first; cancelling it before a
        worker has taken the job withdraws the job. `job` is a module-level function and `argument` picklable (send
        large documents as JSON text: pickling nested dicts is slower)."""
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if self.processes == 0:
            try:
                done.set_result(job(argument))
            except Exception as error:
                done.set_exception(error)
            return done
        self._waiting.setdefault(kind, collections.deque()).append((job, argument, done))
        self._hand_out()
        return done

    def _hand_out(self) -> None:
        while self._handed_out < self.processes + 1:
            kinds = [kind for kind, jobs in self._waiting.items() if jobs]
            if not kinds:
                return
            # The next kind after the last one served (in name order, round), so that the kinds take turns.
            kind = min((later for later in kinds if later > self._last_kind), default=min(kinds))
            self._last_kind = kind
            job, argument, done = self._waiting[kind].popleft()
            if done.done():  # Withdrawn by its caller.
                continue
            try:
                running = self._give_to_pool(job, argument)
            except Exception as error:  # The pool could not take the job: its caller hears why, nobody waits forever.
                done.set_exception(error)
                continue
            self._handed_out += 1
            running.add_done_callback(functools.partial(self._finished, done))

    def _give_to_pool(self, job: Callable[[Any], Any], argument: Any) -> "asyncio.Future[Any]":
        try:
            return asyncio.wrap_future(self._workers().submit(job, argument))
        except BrokenProcessPool:  # A worker died (killed for memory, say): start new ones rather than fail forever.
            log.warning("a worker process died; starting new ones")
            self._stop_pool()
            return asyncio.wrap_future(self._workers().submit(job, argument))

    def _finished(self, done: "asyncio.Future[Any]", running: "asyncio.Future[Any]") -> None:
        self._handed_out -= 1
        if not done.done():
            if running.cancelled():  # The workers stopped (the service stops): the caller's work rolls back.
                done.cancel()
            elif (error := running.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(running.result())
        self._hand_out()

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the service process has an event loop, sockets and possibly threads to not inherit.
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                initargs=(os.getpid(),),
            )
        return self._pool

    async def run(self, state: "State") -> None:
        """A background task of the service: starts the workers at once, and stops them when the service stops."""
        if self.processes == 0:
            return
        pool = self._workers()
        try:
            await asyncio.gather(*(asyncio.wrap_future(pool.submit(warm_up)) for _ in range(self.processes)))
            log.info("proof work (signing, verifying) in %d worker processes", self.processes)
            await asyncio.Event().wait()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers; jobs not yet done fail their callers."""
        waiting, self._waiting = self._waiting, {}
        for jobs in waiting.values():
            for _, _, done in jobs:
                done.cancel()
        self._stop_pool()

    def _stop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
