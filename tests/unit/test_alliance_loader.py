"""A node following the registry: from a file and over HTTP (a real local server), new versions taken, bad ones
refused once, logged and counted, and the last good registry kept."""

import hashlib
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shared.alliance.loader import AllianceMetrics, FileSource, HttpSource, RegistryWatcher, source_for
from shared.alliance.signing import SIGNATURE_SUFFIX, sign
from tests.alliance import ISSUED, alliance_key, document, publish, registry_data, trusted


class Node:
    """A watcher as a service runs it, with its own Prometheus registry to read the counters from."""

    def __init__(self, source, key, now=ISSUED) -> None:
        self.prometheus = CollectorRegistry()
        self.now = now
        self.watcher = RegistryWatcher(source, trusted(key), metrics=AllianceMetrics(self.prometheus), clock=lambda: self.now)

    def refused(self, reason: str) -> float:
        return self.prometheus.get_sample_value("mc_alliance_registry_refused_total", {"reason": reason}) or 0.0

    def serial(self) -> float | None:
        return self.prometheus.get_sample_value("mc_alliance_registry_serial")


@pytest.fixture
def key():
    return alliance_key()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alliance-registry.json"


async def test_a_node_takes_each_newly_signed_registry_from_a_file(path: Path, key) -> None:
    publish(path, registry_data(serial=1), key)
    node = Node(FileSource(path), key)

    assert (await node.watcher.refresh()).serial == 1
    assert await node.watcher.refresh() is None  # Nothing changed.
    data = registry_data(serial=2)
    data["members"].pop(1)  # HTW Saar leaves the alliance.
    publish(path, data, key)
    taken = await node.watcher.refresh()

    assert taken.serial == 2 and node.watcher.registry.serial == 2 and node.serial() == 2
    assert not node.watcher.registry.is_member("htw-saar")


async def test_a_bad_update_is_refused_once_logged_once_and_the_last_good_registry_kept(
    path: Path, key, caplog: pytest.LogCaptureFixture
) -> None:
    publish(path, registry_data(serial=1), key)
    node = Node(FileSource(path), key)
    await node.watcher.refresh()
    tampered = document(registry_data(serial=2)).replace(b'"PL"', b'"DE"')
    path.write_bytes(tampered)  # Someone edits the published file but cannot sign it.

    with caplog.at_level(logging.ERROR, logger="shared.alliance"):
        for _ in range(3):
            assert await node.watcher.refresh() is None

    assert node.watcher.registry.serial == 1 and node.watcher.registry.member("uni-silesia").country == "PL"
    assert node.refused("signature") == 1 and node.serial() == 1
    assert [record.getMessage() for record in caplog.records] == [
        f"alliance registry from {path} refused (signature): the signature by key {key.thumbprint()} does not match "
        "the document (changed after signing, or signed with another key); keeping serial 1"
    ]
    publish(path, registry_data(serial=2), key)
    assert (await node.watcher.refresh()).serial == 2


async def test_an_older_registry_replayed_is_refused_as_a_rollback(path: Path, key) -> None:
    old = publish(path, registry_data(serial=1), key)
    old_signature = Path(f"{path}{SIGNATURE_SUFFIX}").read_bytes()
    node = Node(FileSource(path), key)
    await node.watcher.refresh()
    publish(path, registry_data(serial=2), key)
    await node.watcher.refresh()

    path.write_bytes(old)  # A genuine, still valid, older registry: e.g. to bring back a member removed since.
    Path(f"{path}{SIGNATURE_SUFFIX}").write_bytes(old_signature)
    assert await node.watcher.refresh() is None
    same_serial = registry_data(serial=2)
    same_serial["members"].pop(1)
    publish(path, same_serial, key)
    assert await node.watcher.refresh() is None

    assert node.watcher.registry.serial == 2 and node.watcher.registry.is_member("htw-saar")
    assert node.refused("rollback") == 2


async def test_an_expired_registry_is_refused_and_one_expiring_in_use_is_kept_and_reported(
    path: Path, key, caplog: pytest.LogCaptureFixture
) -> None:
    publish(path, registry_data(serial=1, days=30), key)
    node = Node(FileSource(path), key, now=ISSUED + timedelta(days=31))
    assert await node.watcher.refresh() is None
    assert node.refused("expired") == 1 and node.serial() == 0
    with pytest.raises(LookupError, match="no alliance registry has been loaded"):
        node.watcher.registry

    node.now = ISSUED
    publish(path, registry_data(serial=2, days=30), key)
    assert (await node.watcher.refresh()).serial == 2
    node.now = ISSUED + timedelta(days=45)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="shared.alliance"):
        await node.watcher.refresh()
        await node.watcher.refresh()
    assert node.watcher.registry.serial == 2  # The alliance keeps working while the secretariat re-signs.
    assert [r.getMessage() for r in caplog.records] == [
        "alliance registry serial 2 expired at 2026-01-31T00:00:00+00:00 and is still in use: the secretariat must "
        "sign a new one"
    ]


async def test_a_document_published_before_its_signature_is_taken_once_the_signature_follows(path: Path, key) -> None:
    publish(path, registry_data(serial=1), key)
    node = Node(FileSource(path), key)
    await node.watcher.refresh()
    second = document(registry_data(serial=2))
    path.write_bytes(second)  # The secretariat's upload of the signature is still under way.
    await node.watcher.refresh()
    Path(f"{path}{SIGNATURE_SUFFIX}").write_text(sign(second, key))

    assert (await node.watcher.refresh()).serial == 2


async def test_an_unreadable_registry_is_reported_once_and_the_node_goes_on(
    path: Path, key, caplog: pytest.LogCaptureFixture
) -> None:
    node = Node(FileSource(path), key)
    with caplog.at_level(logging.ERROR, logger="shared.alliance"):
        await node.watcher.refresh()
        await node.watcher.refresh()
    assert node.refused("unavailable") == 2
    assert [r.getMessage() for r in caplog.records] == [
        f"alliance registry unavailable: cannot read {path}: No such file or directory; no registry in use yet"
    ]
    publish(path, registry_data(serial=1), key)
    assert (await node.watcher.refresh()).serial == 1


class RegistryServer(SimpleHTTPRequestHandler):
    """A plain static file server that also sends an ETag and answers If-None-Match with 304, as nginx does."""

    full_answers: list[str]

    def send_head(self):  # type: ignore[no-untyped-def]
        file = Path(self.translate_path(self.path))
        if file.is_file():
            etag = '"' + hashlib.sha256(file.read_bytes()).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return None
            self._etag = etag
            self.full_answers.append(self.path)
        return super().send_head()

    def end_headers(self) -> None:
        if getattr(self, "_etag", None):
            self.send_header("ETag", self._etag)
            self._etag = None
        super().end_headers()

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    full_answers: list[str] = []
    handler = partial(type("Handler", (RegistryServer,), {"full_answers": full_answers}), directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", full_answers
    httpd.shutdown()
    httpd.server_close()


async def test_a_node_follows_the_registry_over_http_with_conditional_requests(
    server: tuple[str, list[str]], path: Path, key
) -> None:
    base, full_answers = server
    publish(path, registry_data(serial=1), key)
    node = Node(source_for(f"{base}/alliance-registry.json"), key)

    assert (await node.watcher.refresh()).serial == 1
    assert await node.watcher.refresh() is None
    assert full_answers == ["/alliance-registry.json", "/alliance-registry.json.jws"]  # The second look was 304s.

    path.write_bytes(document(registry_data(serial=2)).replace(b"Transform4Europe", b"Transform4Evil"))
    assert await node.watcher.refresh() is None
    assert node.refused("signature") == 1 and node.watcher.registry.serial == 1
    publish(path, registry_data(serial=3), key)
    assert (await node.watcher.refresh()).serial == 3

    path.unlink()
    assert await node.watcher.refresh() is None
    assert node.refused("unavailable") == 1 and node.watcher.registry.serial == 3


async def test_a_server_without_etag_is_asked_again_rather_than_trusted_with_a_same_second_date(
    tmp_path: Path, path: Path, key
) -> None:
    """Python's file server sends only Last-Modified, to the second: a file re-signed within the same second as the
    last look must still be seen."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        node = Node(HttpSource(f"http://127.0.0.1:{httpd.server_address[1]}/alliance-registry.json"), key)
        publish(path, registry_data(serial=1), key)
        assert (await node.watcher.refresh()).serial == 1
        publish(path, registry_data(serial=2), key)
        assert (await node.watcher.refresh()).serial == 2
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


def test_plain_http_is_refused_except_to_a_loopback_address() -> None:
    with pytest.raises(ValueError, match="over https"):
        source_for("http://registry.transform4europe.eu/alliance-registry.json")
    assert isinstance(source_for("http://localhost:8080/r.json"), HttpSource)
    assert isinstance(source_for("/etc/microcredentials/alliance-registry.json"), FileSource)
