"""Worker processes for proof work: canonicalizing a credential (RDFC-1.0) is pure Python and holds the interpreter
for milliseconds to seconds, which in the service's own process would stop its event loop (HTTP, PostgreSQL, Kafka).

Signing (signing.py) and verifying (proof_checks.py) each have a pool of their own, so that a public verifier's large
credential never delays issuing, and a cohort's issuing never delays an employer's check.
"""

import asyncio
import ctypes
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
    job in the calling process (tests, to start quickly)."""

    def __init__(self, processes: int, purpose: str) -> None:
        self.processes = processes
        self.purpose = purpose
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, job: Callable[[Any], Result], argument: Any) -> "asyncio.Future[Result]":
        """The job's result, as a future: awaiting it lets the caller do other work first. `job` is a module-level
        function and `argument` picklable (send large documents as JSON text: pickling nested dicts is slower)."""
        if self.processes == 0:
            done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
            try:
                done.set_result(job(argument))
            except Exception as error:
                done.set_exception(error)
            return done
        try:
            return asyncio.wrap_future(self._workers().submit(job, argument))
        except BrokenProcessPool:  # A worker died (killed for memory, say): start new ones rather than fail forever.
            log.warning("a %s worker died; starting new ones", self.purpose)
            self.close()
            return asyncio.wrap_future(self._workers().submit(job, argument))

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
            log.info("%s in %d worker processes", self.purpose, self.processes)
            await asyncio.Event().wait()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers; jobs not yet done fail their callers."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
