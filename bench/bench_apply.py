"""Applications over HTTP, as a cohort makes them: N learners register and apply, each with their own token, under wrk.

    .venv/bin/python bench/bench_apply.py --learners 3000
    .venv/bin/python bench/bench_apply.py --learners 3000 --workers 2 --capacity 1000
    PY_SPY=/path/to/py-spy .venv/bin/python bench/bench_apply.py --learners 3000 --profile /tmp/apply-profile

What it does, on the infrastructure `deploy/infra.sh` runs (under its own topic, database and principal prefix, dropped
at the end): starts the catalogue and the enrolment service as processes (as `deploy/node.sh` would; enrolment with
`--workers` uvicorn workers, HTTP_WORKERS), has a designer's course approved and an offering opened with `--capacity`
places (by default three quarters of the cohort, so that both paths run: a seat, and the waitlist), then drives
`POST /learners` and `POST /applications` for every learner with `wrk` (bench/wrk_apply.lua, 2 threads, 32
connections, as bench/bench_cohort.py), and, as the baseline of the same run, a bare FastAPI endpoint
(bench/bare_app.py) under the same load.

Printed: learners/s for register + apply, each request's rate and latency percentiles, the enrolment service's CPU time
per learner (its processes and workers, from /proc) and its peak RSS, PostgreSQL's CPU per learner, the load average.
Then checked in enrolment's database and API: every learner registered and holds exactly one application, the
enrolled hold seats 1..capacity (never more: no overbooking), the waitlisted positions 1..n, the offering's counts as
published agree, one placed event per application waits in the outbox, and the last availability event tells the
final counts. A benchmark, not
a test: nothing asserts a time, but it exits non-zero when a check fails.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_cohort import (  # noqa: E402
    Databases,
    Processes,
    pid_file,
    profiling,
    rate,
    say,
    wrk_bare_endpoint,
)
from bench import cohort_setup  # noqa: E402
from deploy.journey import DESIGNER, QA_OFFICER, Node, sample_course  # noqa: E402
from shared.auth import Principal  # noqa: E402
from tests.e2e.conftest import NodeProcesses  # noqa: E402
from tests.stack import clean_up  # noqa: E402


@dataclasses.dataclass
class Phase:
    """One wrk run over every learner: its time, the learners' answers, and wrk's latency figures."""

    seconds: float
    created: int
    refused: int
    refusal: str
    requests: int  # wrk's count, the idle ones included
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int

    def latency(self) -> str:
        return f"p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.0f} ms"


def wrk_phase(url: str, tokens: Path, phase: str, offering_id: str) -> Phase:
    """One phase of bench/wrk_apply.lua (bench/wrk_cohort.lua with latency figures), until every learner's request is
    answered."""
    figures = tokens.parent / f"{tokens.name}.{phase}.latency"
    answered = cohort_setup.wrk_learners(
        url, tokens, phase, offering_id, "wrk_apply.lua", {"WRK_LATENCY_FILE": str(figures)}
    )
    requests, p50, p90, p99, longest, errors = (int(value) for value in figures.read_text().split())
    return Phase(
        answered.seconds, answered.created, answered.refused, answered.refusal, requests,
        p50 / 1000, p90 / 1000, p99 / 1000, longest / 1000, errors,
    )


def wrk_floor(url: str, sampler: Processes, seconds: int = 5) -> tuple[float, float]:
    """The enrolment service's own floor: requests/s and CPU ms per request of GET /health/live (its middleware, no
    token, no database) under the same wrk load."""
    sampler.mark("floor")
    output = subprocess.run(
        ["wrk", f"-t{cohort_setup.WRK_THREADS}", f"-c{cohort_setup.WRK_CONNECTIONS}", f"-d{seconds}s",
         f"{url}/health/live"],
        capture_output=True, text=True, check=True,
    ).stdout
    sampler.mark("floored")
    requests = int(next(line.split()[0] for line in output.splitlines() if "requests in" in line))
    return requests / seconds, sampler.between("floor", "floored")["enrolment"] * 1000 / max(requests, 1)


def open_offering(node: Node, title: str, capacity: int) -> str:
    """A course approved in the catalogue (no grading scheme: assessment is not running) and an offering of it."""
    course = node.ok("POST", "catalogue", "/courses", by=DESIGNER, json={"description": sample_course(title)})
    node.ok("POST", "catalogue", f"/courses/{course['id']}/submit", by=DESIGNER)
    approved = node.ok("POST", "catalogue", f"/courses/{course['id']}/approve", by=QA_OFFICER, json={})
    return node.opened_offering(approved, capacity=capacity)["id"]


async def checks(databases: Databases, node: Node, learners: list[Principal], offering_id: str, capacity: int) -> dict:
    """What must hold after the run, each as the number of its violations (0 when it holds)."""
    ids = [learner.subject for learner in learners]
    registered = await databases.value("enrolment", "SELECT count(*) FROM learners WHERE id = ANY($1)", ids)
    applications = {
        row["learner_id"]: row["n"]
        for row in await databases.rows(
            "enrolment",
            "SELECT learner_id, count(*) AS n FROM applications WHERE offering_id = $1 GROUP BY learner_id", offering_id)
    }
    rows = await databases.rows(
        "enrolment", "SELECT status, seat, position FROM applications WHERE offering_id = $1", offering_id)
    seats = sorted(row["seat"] for row in rows if row["status"] == "enrolled")
    positions = sorted(row["position"] for row in rows if row["status"] == "waitlisted")
    enrolled, waitlisted = min(capacity, len(learners)), max(0, len(learners) - capacity)
    published = node.ok("GET", "enrolment", f"/offerings/{offering_id}")
    events = {
        row["type"]: row["n"]
        for row in await databases.rows(
            "enrolment", "SELECT headers->>'ce_type' AS type, count(*) AS n FROM outbox GROUP BY 1")
    }
    placed = sum(n for kind, n in events.items() if ".learner.enrolled." in kind or ".learner.waitlisted." in kind)
    last_availability = await databases.value(
        "enrolment", "SELECT value FROM outbox WHERE headers->>'ce_type' LIKE '%.availability.changed.%' "
        "ORDER BY id DESC LIMIT 1")
    told = json.loads(last_availability)["data"] if last_availability else {}
    return {
        "learners not registered": len(learners) - registered,
        "learners without an application": sum(1 for learner in ids if learner not in applications),
        "learners with more than one application": sum(1 for n in applications.values() if n > 1),
        f"enrolled other than the {enrolled} seats 1..{enrolled} (doubled, lost or overbooked)":
            0 if seats == list(range(1, enrolled + 1)) else max(1, abs(len(seats) - enrolled)),
        f"waitlisted other than positions 1..{waitlisted}":
            0 if positions == list(range(1, waitlisted + 1)) else max(1, abs(len(positions) - waitlisted)),
        "offering's published counts wrong": int(
            (published["enrolled"], published["waitlisted"]) != (enrolled, waitlisted)),
        "placed events other than one per application": abs(placed - len(learners)),
        "last availability event other than the final counts": int(
            (told.get("enrolled"), told.get("waitlisted")) != (enrolled, waitlisted)),
    }


def ms_per(seconds: float, count: int) -> str:
    return f"{seconds * 1000 / count:6.2f} ms"


async def run(args: argparse.Namespace) -> int:
    run_id = uuid.uuid4().hex[:6]
    capacity = args.capacity if args.capacity is not None else max(1, args.learners * 3 // 4)
    resources = contextlib.ExitStack()
    stack = await cohort_setup.private_stack(resources, "bench-apply", run_id)
    state_dir = Path(os.environ.get("MC_STATE_DIR", ROOT / ".run"))
    processes = NodeProcesses(
        stack, Path(tempfile.mkdtemp(prefix="mc-bench-keys-")), "bench-apply", settings={}, ready_timeout=300
    )
    databases = Databases(stack)
    exit_code = 0
    try:
        with resources:
            processes.start("catalogue")
            processes.settings["HTTP_WORKERS"] = str(args.workers)  # enrolment's alone
            processes.start("enrolment")
            node = processes.node
            node.timeout = 120
            sampler = Processes({
                "enrolment": lambda: [p.pid for p in processes.processes["enrolment"] if p is not None],
                "postgresql": lambda: pid_file(state_dir / "pg" / "postmaster.pid"),
                "wrk, benchmark": lambda: [os.getpid()],
            })
            sampler.start()
            offering_id = open_offering(node, f"Applications Benchmark {run_id}", capacity)
            learners = cohort_setup.students(args.learners, f"apply-{run_id}.example.eu")
            tokens = cohort_setup.token_file(node, learners, "mc-bench-apply-")
            load_before = os.getloadavg()
            say(f"{args.learners:,} learners register and apply to an offering of {capacity:,} places; enrolment with "
                f"{args.workers} worker(s); {os.cpu_count()} cores, load average {load_before[0]:.2f} "
                f"(5 min {load_before[1]:.2f})")
            sampler.mark("start")
            with profiling(args.profile, "register", processes, ("enrolment",)):
                registered = wrk_phase(node.urls["enrolment"], tokens, "register", offering_id)
            sampler.mark("registered")
            with profiling(args.profile, "apply", processes, ("enrolment",)):
                applied = wrk_phase(node.urls["enrolment"], tokens, "apply", offering_id)
            sampler.mark("applied")
            load_after = os.getloadavg()
            floor = wrk_floor(node.urls["enrolment"], sampler)
            bare = wrk_bare_endpoint()
            problems = await checks(databases, node, learners, offering_id, capacity)
            sampler.stop()

        say()
        total = registered.seconds + applied.seconds
        say(f"register + apply over HTTP (wrk, {cohort_setup.WRK_THREADS} threads, {cohort_setup.WRK_CONNECTIONS} "
            "connections, each learner's own "
            "token):")
        say(f"  register + apply          {rate(args.learners, total, 'learners/s')}")
        for name, phase in (("POST /learners", registered), ("POST /applications", applied)):
            say(f"    {name:<22}{rate(args.learners, phase.seconds, 'req/s')}   {phase.latency()}"
                f"   ({phase.requests - phase.created - phase.refused} idle requests among wrk's)")
            if phase.refused or phase.created != args.learners or phase.socket_errors:
                say(f"      {phase.created} answered 201/202, {phase.refused} refused (e.g. {phase.refusal}), "
                    f"{phase.socket_errors} socket errors")
                exit_code = 1
        say(f"  baseline: bare FastAPI endpoint (bench/bare_app.py), same wrk load  {bare:>8,.0f} req/s")
        say(f"  the service's floor: GET /health/live (middleware only)  {floor[0]:>8,.0f} req/s, "
            f"{floor[1]:.2f} ms CPU per request")
        say(f"CPU time per learner (from /proc), load average {load_before[0]:.2f} before, {load_after[0]:.2f} after:")
        register_cpu, apply_cpu = sampler.between("start", "registered"), sampler.between("registered", "applied")
        for name in ("enrolment", "postgresql"):
            say(f"  {name:<12} register {ms_per(register_cpu[name], args.learners)}   "
                f"apply {ms_per(apply_cpu[name], args.learners)}   "
                f"both {ms_per(register_cpu[name] + apply_cpu[name], args.learners)}")
        say(f"  enrolment's peak RSS: {sampler.peak_rss['enrolment']:.0f} MB per process, "
            f"{sampler.peak_tree_rss['enrolment']:.0f} MB with its workers")
        say("checks:")
        for problem, count in problems.items():
            say(f"  {problem}: {count}")
            if count:
                exit_code = 1
        say("OK: every learner holds exactly one application, no place doubled, lost or overbooked" if not exit_code
            else "FAILED")
        return exit_code
    finally:
        processes.stop()
        await databases.close()
        await clean_up(stack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=3000)
    parser.add_argument("--capacity", type=int, help="the offering's places (default: three quarters of the learners)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the enrolment service (HTTP_WORKERS)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record enrolment with py-spy (PY_SPY) while registering and applying (collapsed stacks in DIR)")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
