"""How fast this machine builds, signs and verifies credentials, and where the time goes.

    .venv/bin/python bench/bench_credentials.py --count 500 --kind-count 100

Prints: raw Ed25519 signatures per second with one key (the floor no credential can beat), credentials built +
canonicalized + signed per second, verified per second, the split of a signature's time (building, JSON-LD
expansion, RDFC-1.0 canonicalization, hashing, Ed25519), and signing in parallel processes, with the time 10,000
credentials would take each way. Then, per kind of document the node signs, canonicalization alone and
canonicalization + signing three ways in the same run: plain pyld (`jsonld.normalize` as it comes), pyld with
proof.py's cache of processed contexts (the node's path before the fast path), and the fast path (vc/quads.py +
vc/rdfc.py) the node now takes.
A benchmark, not a test: nothing here asserts a timing.
"""

import argparse
import hashlib
import itertools
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pydantic_core  # noqa: E402
from pyld import jsonld  # noqa: E402

from services.certification.status_lists import StatusPurpose, bitstring, status_list_credential  # noqa: E402
from services.certification.tests.test_vc import (  # noqa: E402
    SAARLAND,
    SAARLAND_KEY,
    SAARLAND_METHOD,
    every_kind_of_credential,
    plain_pyld,
    sample_record,
)
from services.certification.vc import keys, proof  # noqa: E402
from services.certification.vc.contexts import document_loader  # noqa: E402
from services.certification.vc.credential import open_badge_credential_json  # noqa: E402
from services.certification.vc.proof import canonicalize, canonicalize_fast, canonicalize_with_pyld, sign, verify  # noqa: E402

CREATED = datetime(2025, 7, 1, 10, 30, tzinfo=UTC)
RECORD = sample_record()


def build(index: int) -> dict:
    unsigned = open_badge_credential_json(RECORD, f"urn:uuid:{uuid.UUID(int=index)}", SAARLAND, CREATED, salt="bench")
    return pydantic_core.from_json(unsigned)


def timed(function, count: int, clock=time.perf_counter, rounds: int = 3) -> float:
    """Seconds per call, the best of `rounds` rounds (the least disturbed by the rest of the machine)."""
    results = []
    for _ in range(rounds):
        start = clock()
        for index in range(count):
            function(index)
        results.append((clock() - start) / count)
    return min(results)


def cpu_timed(function, count: int) -> float:
    """CPU seconds of this process per call, best of 5 rounds: on a machine shared with other work, far steadier
    than wall time for comparing two ways of doing the same thing."""
    return timed(function, count, clock=time.process_time, rounds=5)


def sign_many(indices: range) -> int:
    for index in indices:
        sign(build(index), SAARLAND_KEY, SAARLAND_METHOD, created=CREATED)
    return len(indices)


def _warm() -> None:
    sign_many(range(0, 4))  # imports, bundled contexts, pyld's context cache


def parallel_rate(count: int, workers: int) -> float:
    size = -(-count // workers)
    chunks = [range(start, min(start + size, count)) for start in range(0, count, size)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_warm) as pool:
        list(pool.map(time.sleep, [0.2] * workers))  # every worker started and warmed
        start = time.perf_counter()
        done = sum(pool.map(sign_many, chunks))
        return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="credentials per measurement (default 500)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the parallel run")
    parser.add_argument(
        "--kind-count", type=int, default=100, help="documents per measurement in the per-kind comparison (default 100)"
    )
    count = parser.parse_args().count
    workers = parser.parse_args().workers
    kind_count = parser.parse_args().kind_count

    message = bytes(64)  # the signed hash data is 64 bytes
    resolver = keys.KeyResolver()
    samples = [build(index) for index in range(count)]
    signed = [sign(document, SAARLAND_KEY, SAARLAND_METHOD, created=CREATED) for document in samples]
    proof_config = {
        "@context": samples[0]["@context"],
        **{k: v for k, v in signed[0]["proof"][0].items() if k != "proofValue"},
    }
    assert all(verify(document, resolver, now=CREATED).verified for document in signed[:10])

    raw_sign = timed(lambda i: SAARLAND_KEY.sign(message), count)
    t_build = timed(build, count)
    plain = {"documentLoader": document_loader, "base": None}
    t_expand = timed(lambda i: jsonld.expand(samples[i], plain), count)
    # pyld as it comes, without proof.py's cache of processed contexts: the baseline of the canonicalization.
    t_canon_plain = timed(
        lambda i: jsonld.normalize(samples[i], {**plain, "algorithm": "URDNA2015", "format": "application/n-quads"}),
        count,
    )
    t_canon_document = timed(lambda i: canonicalize(samples[i]), count)
    t_canon_config = timed(lambda i: canonicalize(proof_config), count)
    canonical = [canonicalize(document) for document in samples[:50]]
    t_hash = timed(
        lambda i: (hashlib.sha256(canonical[i % 50].encode()).digest(), hashlib.sha256(b"c" * 600).digest()), count
    )
    t_sign_total = timed(lambda i: sign(samples[i], SAARLAND_KEY, SAARLAND_METHOD, created=CREATED), count)
    t_build_and_sign = timed(lambda i: sign(build(i), SAARLAND_KEY, SAARLAND_METHOD, created=CREATED), count)
    # A new `created` for every credential: the cached proof-configuration hash never hits.
    fresh = itertools.count(1)
    t_build_and_sign_uncached = timed(
        lambda i: sign(build(i), SAARLAND_KEY, SAARLAND_METHOD, created=CREATED + timedelta(seconds=next(fresh))), count
    )
    t_verify = timed(lambda i: verify(signed[i], resolver, now=CREATED), count)
    rate_parallel = parallel_rate(count, workers) if workers > 1 else None

    nquads = statistics.mean(len(c.splitlines()) for c in canonical)
    print(f"credentials of {nquads:.0f} N-Quads each; {count} per measurement, best of 3; {os.cpu_count()} CPUs")
    print()
    print(f"{'operation':<52}{'per second':>12}{'ms each':>10}{'10,000 take':>14}")
    rows = [
        ("raw Ed25519 signature, same key (baseline)", raw_sign),
        ("build the credential (open_badge_credential_json)", t_build),
        ("sign an already built credential (proof.sign)", t_sign_total),
        ("build + canonicalize + sign, new `created` each", t_build_and_sign_uncached),
        ("build + canonicalize + sign, same `created` second", t_build_and_sign),
        ("verify (proof.verify)", t_verify),
    ]
    for name, seconds in rows:
        print(f"{name:<52}{1 / seconds:>12,.0f}{seconds * 1000:>10.2f}{_duration(10_000 * seconds):>14}")
    if rate_parallel:
        print(
            f"{f'build + sign in {workers} processes':<52}{rate_parallel:>12,.0f}{1000 / rate_parallel:>10.2f}"
            f"{_duration(10_000 / rate_parallel):>14}"
        )
    print()
    print("where the time of one build + sign goes")
    ed25519 = raw_sign
    canonicalization = t_canon_document + t_canon_config
    split = [
        ("building the JSON", t_build),
        ("canonicalization: the credential (expand + RDFC-1.0)", t_canon_document),
        ("canonicalization: the proof configuration (uncached)", t_canon_config),
        ("hashing (SHA-256 x2)", t_hash),
        ("Ed25519 signature", ed25519),
    ]
    total = t_build + canonicalization + t_hash + ed25519
    for name, seconds in split:
        print(f"  {name:<58}{seconds * 1000:>8.3f} ms{100 * seconds / total:>6.1f} %")
    print(f"  {'sum':<58}{total * 1000:>8.3f} ms (measured end to end: {t_build_and_sign_uncached * 1000:.3f} ms)")
    print()
    print("canonicalization of the credential, same output every way (tests/test_canonical.py compares them)")
    for name, seconds in [
        ("plain pyld, expand + RDFC-1.0 (baseline)", t_canon_plain),
        ("  of which JSON-LD expansion", t_expand),
        ("proof.canonicalize (the fast path)", t_canon_document),
    ]:
        print(f"  {name:<58}{seconds * 1000:>8.3f} ms")
    print(f"  {'-> faster than the baseline by':<58}{t_canon_plain / t_canon_document:>8.1f} x")
    print()
    print("The proof configuration's hash is cached (same key, same `created` second): a batch skips that part.")
    print()
    compare_kinds(kind_count)


def documents_by_kind() -> dict[str, dict]:
    """One document of each kind the node signs, without its proof (what a signature canonicalizes)."""
    kinds = every_kind_of_credential()
    documents = {
        "single micro-credential": kinds["single"],
        "joint, 1 endorsement embedded": kinds["joint"],
        "endorsement credential": kinds["endorsement"],
        "programme (2 stacked)": kinds["programme"],
    }
    unsecured = {name: {k: v for k, v in document.items() if k != "proof"} for name, document in documents.items()}
    unsecured["status list credential"] = status_list_credential(
        "https://node.example/status-lists/uni-saarland/revocation", SAARLAND.id, StatusPurpose.REVOCATION,
        bitstring(131072, [3, 17]), "2025-07-01T10:30:00Z",
    )
    [single_proof] = kinds["single"]["proof"]
    unsecured["proof configuration"] = {
        "@context": kinds["single"]["@context"],
        **{key: value for key, value in single_proof.items() if key != "proofValue"},
    }
    return unsecured


def compare_kinds(count: int) -> None:
    """Per kind: canonicalization alone, and canonicalization + signing with a new `created` each time (so that the
    proof configuration is canonicalized too), by plain pyld, by pyld with cached contexts, and by the fast path."""
    documents = documents_by_kind()
    for name, document in documents.items():
        fast = canonicalize_fast(document)
        assert fast is not None and fast == plain_pyld(document) == canonicalize_with_pyld(document), name
    fresh = itertools.count(1)

    def sign_fresh(document: dict) -> None:
        sign(document, SAARLAND_KEY, SAARLAND_METHOD, created=CREATED + timedelta(seconds=next(fresh)))

    def sign_with(canonicalization):
        def signing(document: dict) -> None:
            with mock.patch.object(proof, "canonicalize", canonicalization):
                sign_fresh(document)

        return signing

    sign_with_plain_pyld = sign_with(plain_pyld)
    sign_with_pyld = sign_with(canonicalize_with_pyld)

    print(f"per kind of document: CPU ms each, best of 5 rounds of {count}; the same N-Quads every way")
    header = (
        f"{'kind':<32}{'N-Quads':>8}{'plain pyld':>12}{'pyld cached':>13}{'fast':>8}{'x cached':>10}{'x plain':>9}"
    )
    print("canonicalize alone")
    print(header)
    for name, document in documents.items():
        nquads = len(canonicalize(document).splitlines())
        t_plain = cpu_timed(lambda i: plain_pyld(document), count)
        t_cached = cpu_timed(lambda i: canonicalize_with_pyld(document), count)
        t_fast = cpu_timed(lambda i: canonicalize_fast(document), count)
        print(
            f"{name:<32}{nquads:>8}{t_plain * 1000:>12.3f}{t_cached * 1000:>13.3f}{t_fast * 1000:>8.3f}"
            f"{t_cached / t_fast:>10.1f}{t_plain / t_fast:>9.1f}"
        )
    print("canonicalize + sign (document and proof configuration canonicalized, SHA-256, Ed25519)")
    print(
        f"{'kind':<32}{'plain pyld':>12}{'/s':>8}{'pyld cached':>13}{'/s':>8}{'fast':>8}{'/s':>8}"
        f"{'x cached':>10}{'x plain':>9}"
    )
    for name, document in documents.items():
        if name == "proof configuration":
            continue
        t_plain = cpu_timed(lambda i: sign_with_plain_pyld(document), count)
        t_cached = cpu_timed(lambda i: sign_with_pyld(document), count)
        t_fast = cpu_timed(lambda i: sign_fresh(document), count)
        print(
            f"{name:<32}{t_plain * 1000:>12.3f}{1 / t_plain:>8,.0f}{t_cached * 1000:>13.3f}{1 / t_cached:>8,.0f}"
            f"{t_fast * 1000:>8.3f}{1 / t_fast:>8,.0f}{t_cached / t_fast:>10.1f}{t_plain / t_fast:>9.1f}"
        )


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    main()
