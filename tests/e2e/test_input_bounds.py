"""Bad input is bounded, over real HTTP: bodies past the limit are 413 naming it (also when they come chunked, without
a length), a cohort's CSV has its own larger limit and a row limit, and text or numbers PostgreSQL cannot hold are a
422 naming the parameter instead of a server error."""

import uuid
from collections.abc import Iterator

import pytest

from deploy.journey import ASSESSOR, REGISTRAR, Node, sample_course

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body as a stream: httpx then sends it chunked, without Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def oversized_json() -> bytes:
    return b'{"course_id": "' + b"x" * (MIB + 1) + b'"}'


@pytest.mark.parametrize("send", ["with-length", "chunked"])
def test_a_body_over_the_limit_is_refused_with_413_naming_the_limit(node: Node, send: str):
    body = oversized_json()
    content = body if send == "with-length" else chunked(body)
    response = node.call(
        "POST", "catalogue", "/offerings", by=REGISTRAR, content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "1048576 bytes" in response.json()["detail"] and "HTTP_MAX_BODY_BYTES" in response.json()["detail"]
    assert node.call("GET", "catalogue", "/health/live").status_code == 200


def csv_of(rows: int, learner_id_length: int = 8) -> bytes:
    lines = [f"{'l' * learner_id_length}-{n},1.7,2026-11-20\n" for n in range(rows)]
    return ("learner_id,grade,assessed_on\n" + "".join(lines)).encode()


@pytest.fixture(scope="module")
def course(node: Node) -> dict:
    """An approved course that assessment knows, with a grading scheme."""
    return node.approved_course(sample_course(f"Input Bounds {uuid.uuid4().hex[:4]}"))


def test_a_cohort_csv_has_its_own_size_limit_and_a_row_limit(node: Node, course: dict):
    unknown = f"course-{uuid.uuid4().hex[:8]}"
    # Past the 1 MiB of other bodies, within the CSV's 5 MiB: read whole, then refused for what it says (no such course).
    big = csv_of(8_000, learner_id_length=150)
    assert MIB < len(big) < 5 * MIB
    upload = node.call(
        "POST", "assessment", f"/grades/bulk?course_id={unknown}", by=ASSESSOR, content=chunked(big),
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 404 and unknown in upload.json()["detail"]

    too_big = csv_of(40_000, learner_id_length=150)
    refused = node.call(
        "POST", "assessment", f"/grades/bulk?course_id={unknown}", by=ASSESSOR, content=too_big,
        headers={"Content-Type": "text/csv"},
    )
    assert refused.status_code == 413 and "GRADES_CSV_MAX_BYTES" in refused.json()["detail"]

    too_many = node.call(
        "POST", "assessment", "/grades/bulk", by=ASSESSOR, files={"file": ("cohort.csv", csv_of(10_001))},
        data={"course_id": course["id"]},
    )
    assert too_many.status_code == 413
    assert "more than 10000 grade rows" in too_many.json()["detail"] and "GRADES_CSV_MAX_ROWS" in too_many.text
    assert node.ok("GET", "assessment", f"/grade-rejections?course_id={course['id']}", by=ASSESSOR) == [], (
        "nothing was written"
    )


def test_text_postgresql_cannot_hold_is_a_422_naming_the_field(node: Node):
    body = node.call("POST", "catalogue", "/offerings", by=REGISTRAR, json={"course_id": "a\x00b", "pace": "x"})
    assert body.status_code == 422
    [problem] = body.json()["detail"]
    assert problem["loc"] == ["body", "course_id"] and "NUL" in problem["msg"]

    query = node.call("GET", "assessment", "/grade-rejections", params={"learner_id": "\x00"})
    assert query.status_code == 422 and query.json()["detail"][0]["loc"] == ["query", "learner_id"]

    path = node.call("GET", "catalogue", "/courses/a%00b")
    assert path.status_code == 422 and path.json()["detail"][0]["loc"] == ["path", "course_id"]

    # A lone surrogate is not Unicode text; a pair (an emoji) is.
    lone = node.call(
        "POST", "enrolment", "/applications", by=REGISTRAR, content=b'{"offering_id": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert lone.status_code == 422 and lone.json()["detail"][0]["loc"] == ["body", "offering_id"]
    pair = node.call(
        "POST", "enrolment", "/applications", by=REGISTRAR, content=b'{"offering_id": "\\ud83c\\udf93"}',
        headers={"Content-Type": "application/json"},
    )
    assert pair.status_code == 403, "past the text check, to the role check"


@pytest.mark.parametrize(
    ("service", "path", "name"),
    [
        ("catalogue", "/courses/some-course/versions/8589934592", ["path", "version"]),
        ("catalogue", "/offerings?page=576460752303423488", ["query", "page"]),
        ("notifications", "/dashboard/events?follow=false&after=99999999999999999999", ["query", "after"]),
    ],
)
def test_numbers_past_what_the_database_holds_are_a_422_naming_the_parameter(
    node: Node, service: str, path: str, name: list[str]
):
    # As staff where the route is staff's only (the dashboards): past the token check, to the parameter's.
    response = node.call("GET", service, path, by=REGISTRAR if service == "notifications" else None)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == name


def test_a_number_json_cannot_hold_is_a_422(node: Node, course: dict):
    # Python reads 1e999 as infinity; jsonb (and JSON) have none, so storing it was a server error.
    scheme = b'{"scheme": {"kind": "numeric", "name": "x", "minimum": 1, "maximum": 1e999, "pass_mark": 4}}'
    response = node.call(
        "PUT", "assessment", f"/courses/{course['id']}/grading-scheme", by=ASSESSOR, content=scheme,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422 and "finite" in response.text


@pytest.mark.parametrize(
    ("terms", "location"),
    [({"capacity": 2**40}, ["body", "capacity"]), ({"course_version": 2**31}, ["body", "course_version"])],
)
def test_an_offering_with_numbers_past_integer_is_a_422(node: Node, course: dict, terms: dict, location: list[str]):
    body = {
        "course_id": course["id"], "delivery_mode": "online", "pace": "time-bound",
        "registration_opens_at": "2026-01-01T00:00:00Z", "registration_closes_at": "2026-02-01T00:00:00Z",
    } | terms
    response = node.call("POST", "catalogue", "/offerings", by=REGISTRAR, json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == location


def test_an_offering_with_an_infinite_fee_is_a_422(node: Node, course: dict):
    body = (
        f'{{"course_id": "{course["id"]}", "delivery_mode": "online", "pace": "time-bound", '
        '"registration_opens_at": "2026-01-01T00:00:00Z", "registration_closes_at": "2026-02-01T00:00:00Z", '
        '"fee": {"amount": 1e999, "currency": "EUR"}}'
    )
    response = node.call(
        "POST", "catalogue", "/offerings", by=REGISTRAR, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "fee", "amount"]
