"""How fast the web front end's pages are with 10,000 courses and 10,000 offerings in the catalogue.

    .venv/bin/python bench/bench_web.py [--courses 10000] [--requests 40]

Starts a node (the five services as processes) and the front end on the local infrastructure, fills the catalogue's
database with approved courses and open offerings (written straight into its tables: the API would take an hour),
then asks for each page one request at a time and prints the median and 95th percentile of the time to the whole
page, beside the baseline: the catalogue service's own JSON answer to the same search, which the page is made from.
Signed-in pages (wallet, applications) call the services the same way with a token; they are not measured here. A
benchmark: nothing asserts a timing.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.journey import sample_course  # noqa: E402
from tests.e2e.conftest import issuer_keys, running_node, wait_ready  # noqa: E402
from tests.stack import ROOT, clean_up, free_port, start_stack, with_kafka_principals  # noqa: E402

WORDS = ["Circular", "Data", "Ethics", "Green", "Urban", "Health", "Quantum", "Cultural", "Digital", "Marine",
         "Regional", "Energy", "Language", "Design", "Law", "Finance"]
LANGUAGES = ["en", "de", "fr", "bg", "it", "lt", "sl", "pl", "es", "pt"]
INSTITUTIONS = [("uni-saarland", "Saarland University", "DE"), ("uni-sofia", "Sofia University", "BG"),
                ("upr", "University of Primorska", "SI")]


def courses_and_offerings(count: int) -> tuple[list[tuple], list[tuple]]:
    """Rows for the catalogue's `courses` and `offerings` tables: approved, open for registration, varied."""
    now = datetime.now(UTC)
    courses, offerings = [], []
    for number in range(count):
        course_id, (institution, name, country) = str(uuid.uuid4()), INSTITUTIONS[number % 3]
        title = f"{WORDS[number % 16]} {WORDS[(number // 16) % 16]} Studio {number}"
        description = sample_course(title) | {
            "awarding_bodies": [{"id": institution, "name": name, "country": country}],
            "languages": [LANGUAGES[number % len(LANGUAGES)]],
            "ects": 1 + number % 10,
            "workload_hours": 25 * (1 + number % 10),
            "eqf_level": 4 + number % 5,
        }
        courses.append((course_id, 1, "approved", json.dumps([institution]), "designer", "designer", "qa",
                        now, now, now, now, json.dumps(description)))
        offerings.append((str(uuid.uuid4()), course_id, 1, institution, ["online", "blended", "on-campus"][number % 3],
                          ["self-paced", "time-bound"][number % 2], (now + timedelta(days=30)).date(),
                          (now + timedelta(days=120)).date(), now - timedelta(days=1),
                          now + timedelta(days=1 + number % 60), 30, None,
                          json.dumps(["alliance-student", "alliance-staff", "external"]), "registrar", now))
    return courses, offerings


async def fill(database_url: str, count: int) -> list[str]:
    courses, offerings = courses_and_offerings(count)
    connection = await asyncpg.connect(database_url)
    try:
        await connection.copy_records_to_table(
            "courses", records=courses,
            columns=["id", "version", "status", "institutions", "designed_by", "submitted_by", "reviewed_by",
                     "created_at", "submitted_at", "reviewed_at", "updated_at", "description"])
        await connection.copy_records_to_table(
            "offerings", records=offerings,
            columns=["id", "course_id", "course_version", "institution", "delivery_mode", "pace", "starts_on",
                     "ends_on", "registration_opens_at", "registration_closes_at", "capacity", "fee", "open_to",
                     "opened_by", "created_at"])
        await connection.execute("ANALYZE courses; ANALYZE offerings")
    finally:
        await connection.close()
    return [row[0] for row in offerings]


def timed(client: httpx.Client, url: str, requests: int, **headers: str) -> tuple[float, float]:
    """(median, 95th percentile) in milliseconds of `requests` sequential GETs, after two to warm up."""
    for _ in range(2):
        client.get(url, headers=headers).raise_for_status()
    took = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url, headers=headers).raise_for_status()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return statistics.median(took), took[int(len(took) * 0.95) - 1]


@contextlib.contextmanager
def front_end(stack, urls: dict[str, str]):  # type: ignore[no-untyped-def]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | stack.env() | {"HTTP_PORT": str(port), "PUBLIC_URL": url} | {
        f"{name.upper()}_URL": urls[name] for name in ("catalogue", "enrolment", "certification", "notifications")}
    log = ROOT / ".run" / "logs" / "bench-web.log"
    process = subprocess.Popen([sys.executable, "-m", "services.web", "serve"], cwd=ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_ready(url, process, str(log))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def main(count: int, requests: int) -> None:
    with contextlib.ExitStack() as resources:
        base = with_kafka_principals(start_stack(resources))
        stack = with_kafka_principals(dataclasses.replace(
            base, topic_prefix=f"{base.topic_prefix}benchweb.", database_prefix=f"{base.database_prefix}_benchweb"))
        keys = Path(resources.enter_context(tempfile.TemporaryDirectory()))
        try:
            with running_node(stack, issuer_keys(keys), log_prefix="bench-web") as node:
                catalogue_db = make_url(stack.database_url).set(
                    drivername="postgresql", database=f"{stack.database_prefix}_catalogue").render_as_string(False)
                started = time.perf_counter()
                offering_ids = asyncio.run(fill(catalogue_db, count))
                print(f"catalogue filled with {count:,} approved courses and {count:,} open offerings "
                      f"in {time.perf_counter() - started:.1f} s")
                with front_end(stack, node.urls) as web, httpx.Client(timeout=30) as client:
                    catalogue = node.urls["catalogue"]
                    one = offering_ids[count // 2]
                    rows = [
                        ("start page", f"{web}/", None),
                        ("catalogue, first page (open now)", f"{web}/catalogue",
                         f"{catalogue}/offerings?open_for_registration=true&page_size=20"),
                        ("catalogue, words in the title", f"{web}/catalogue?q=Quantum+Ethics",
                         f"{catalogue}/offerings?q=Quantum+Ethics&open_for_registration=true&page_size=20"),
                        ("catalogue, filters", f"{web}/catalogue?language=de&ects_max=5&eqf_level=6",
                         f"{catalogue}/offerings?language=de&ects_max=5&eqf_level=6&open_for_registration=true"
                         "&page_size=20"),
                        ("catalogue, page 400", f"{web}/catalogue?page=400",
                         f"{catalogue}/offerings?open_for_registration=true&page_size=20&page=400"),
                        ("one offering", f"{web}/catalogue/{one}", f"{catalogue}/offerings/{one}"),
                        ("verify page", f"{web}/verify", None),
                    ]
                    print(f"\n{requests} sequential requests each; median / 95th percentile, milliseconds\n")
                    print(f"{'page':<36} {'web page':>16}   {'catalogue JSON (baseline)':>26}")
                    for language in ("en", "bg"):
                        for name, page, baseline in rows:
                            median, p95 = timed(client, page, requests, **{"Accept-Language": language})
                            base_text = ""
                            if baseline:
                                base_median, base_p95 = timed(client, baseline, requests)
                                base_text = f"{base_median:8.1f} / {base_p95:6.1f}"
                            print(f"{name + f' ({language})':<36} {median:8.1f} / {p95:6.1f}   {base_text:>26}")
        finally:
            asyncio.run(clean_up(base))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    arguments = parser.parse_args()
    main(arguments.courses, arguments.requests)
