"""A node's copy of the registry: fetched from a file or over HTTPS, checked, swapped in whole, and polled for changes.

`RegistryWatcher.refresh()` looks once: unchanged sources cost a `stat` or a conditional GET (ETag / Last-Modified),
a changed one is verified with the pinned alliance key and, if anything is wrong with it, refused — logged once,
counted in `mc_alliance_registry_refused_total{reason}` — while the last good registry stays in use. `run()` polls
forever; `watch_alliance` is that loop as a `Service.background` task.
"""

import asyncio
import email.utils
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from joserfc.jwk import OKPKey
from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.datastructures import State

from shared.alliance.models import AllianceRegistry
from shared.alliance.signing import SIGNATURE_SUFFIX, RegistryRefused, load_trusted_keys, verify
from shared.settings import ServiceSettings

log = logging.getLogger("shared.alliance")

# A registry of a few hundred members with inline keys is well under 1 MB; anything far larger is not a registry.
MAX_BYTES = 4 * 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class RegistryUnavailable(Exception):
    """The registry could not be read at all (missing file, HTTP error, timeout, too large)."""


@dataclass(frozen=True)
class Fetched:
    document: bytes
    signature: bytes


class FileSource:
    """`<path>` and `<path>.jws` on disk; a change is a new mtime or size of either."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.signature_path = Path(f"{path}{SIGNATURE_SUFFIX}")
        self._seen: tuple | None = None

    def __str__(self) -> str:
        return str(self.path)

    async def close(self) -> None:
        pass

    async def fetch(self, force: bool = False) -> Fetched | None:
        """Both files, or None when neither changed since the last fetch."""
        return await asyncio.to_thread(self._fetch, force)

    def _fetch(self, force: bool) -> Fetched | None:
        try:
            stamp = tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in map(os.stat, (self.path, self.signature_path)))
            if stamp == self._seen and not force:
                return None
            if any(size > MAX_BYTES for _, size, _ in stamp):
                raise RegistryUnavailable(f"{self.path} or its signature is larger than {MAX_BYTES} bytes")
            fetched = Fetched(self.path.read_bytes(), self.signature_path.read_bytes())
        except OSError as error:
            raise RegistryUnavailable(f"cannot read {error.filename}: {error.strerror}") from None
        self._seen = stamp
        return fetched


class HttpSource:
    """`<url>` and `<url>.jws` over HTTPS (http only to a loopback address), fetched with conditional GETs."""

    def __init__(self, url: str, timeout: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ValueError(f"the registry is fetched over https (http only from a loopback address), not {url!r}")
        self.url = url
        self.signature_url = url + SIGNATURE_SUFFIX
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._cache: dict[str, tuple[dict[str, str], bytes]] = {}  # url -> (validators to send, body)

    def __str__(self) -> str:
        return self.url

    async def close(self) -> None:
        await self._client.aclose()

    async def fetch(self, force: bool = False) -> Fetched | None:
        if force:
            self._cache.clear()
        document, document_changed = await self._get(self.url)
        signature, signature_changed = await self._get(self.signature_url)
        return Fetched(document, signature) if document_changed or signature_changed else None

    async def _get(self, url: str) -> tuple[bytes, bool]:
        validators, cached = self._cache.get(url, ({}, b""))
        try:
            async with self._client.stream("GET", url, headers=validators) as response:
                if response.status_code == 304 and url in self._cache:
                    return cached, False
                if response.status_code != 200:
                    raise RegistryUnavailable(f"GET {url} answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise RegistryUnavailable(f"GET {url}: the answer is larger than {MAX_BYTES} bytes")
        except httpx.HTTPError as error:
            raise RegistryUnavailable(f"GET {url} failed: {error!r}") from None
        self._cache[url] = (_validators(response.headers), bytes(body))
        return bytes(body), True


def _validators(headers: httpx.Headers) -> dict[str, str]:
    """What to send next time so that an unchanged answer comes back as 304.

    A Last-Modified less than a second before the answer's Date is only a weak validator (RFC 9110, 8.8.2.2): the
    file may change again within that second without its date changing, so such an answer is fetched again in full.
    """
    if etag := headers.get("etag"):
        return {"If-None-Match": etag}
    modified, date = headers.get("last-modified"), headers.get("date")
    if modified and date:
        try:
            if (email.utils.parsedate_to_datetime(date) - email.utils.parsedate_to_datetime(modified)).total_seconds() >= 1:
                return {"If-Modified-Since": modified}
        except (TypeError, ValueError):
            pass
    return {}


def source_for(location: str) -> FileSource | HttpSource:
    """ALLIANCE_REGISTRY_URL: an https URL, or a file path (`file://` optional)."""
    if location.startswith(("https://", "http://")):
        return HttpSource(location)
    return FileSource(location.removeprefix("file://"))


class AllianceMetrics:
    """What an operator's Prometheus sees of the registry, on the service's own metrics registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter(
            "mc_alliance_registry_refused",
            "Alliance registries refused (or not readable), by reason: signature, unknown-key, schema, expired, "
            "rollback, unavailable",
            ["reason"],
            registry=registry,
        )
        self.serial = Gauge(
            "mc_alliance_registry_serial", "Serial of the alliance registry in use (0 until one is)",
            registry=registry,
        )
        self.expires = Gauge(
            "mc_alliance_registry_expires_timestamp_seconds",
            "When the registry in use expires: alert well before time() passes it", registry=registry,
        )


class RegistryWatcher:
    """Holds the last good registry of a source and replaces it only with a newer one that verifies."""

    def __init__(
        self,
        source: FileSource | HttpSource,
        trusted_keys: Mapping[str, OKPKey],
        poll_seconds: float = 60.0,
        metrics: AllianceMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.trusted_keys = trusted_keys
        self.poll_seconds = poll_seconds
        self.metrics = metrics
        self.clock = clock
        self.current: AllianceRegistry | None = None
        self._current_document: bytes | None = None
        self._refused: bytes | None = None  # digest of the (document, signature) pair refused last
        self._unavailable: str | None = None  # the last "cannot read" message, logged once until a read succeeds
        self._expiry_reported = False

    @property
    def registry(self) -> AllianceRegistry:
        """The registry in use; NotAMember-style LookupError when none could be loaded yet."""
        if self.current is None:
            raise LookupError(f"no alliance registry has been loaded from {self.source} (see the log)")
        return self.current

    async def refresh(self) -> AllianceRegistry | None:
        """Look at the source once; return the registry newly taken into use, if any."""
        try:
            fetched = await self.source.fetch()
        except RegistryUnavailable as error:
            self._unavailable_now(str(error))
            return None
        if self._unavailable is not None:
            log.info("alliance registry readable again at %s", self.source)
            self._unavailable = None
        accepted = None
        for attempt in range(2):
            if fetched is None or fetched.document == self._current_document:
                break
            digest = hashlib.sha256(fetched.document + b"\0" + fetched.signature).digest()
            if digest == self._refused:
                break  # Refused already: logged and counted once.
            try:
                accepted = self._accept(fetched)
                break
            except RegistryRefused as refusal:
                if attempt == 0 and refusal.reason == "signature":
                    # The secretariat writes two files; a read between the two sees a new document with the old
                    # signature. Read both again before calling it a bad signature.
                    try:
                        again = await self.source.fetch(force=True)
                    except RegistryUnavailable:
                        again = None
                    if again is not None and again != fetched:
                        fetched = again
                        continue
                self._refused = digest
                self._refuse(refusal)
                break
        self._check_expiry()
        return accepted

    async def run(self) -> None:
        try:
            while True:
                await self.refresh()
                await asyncio.sleep(self.poll_seconds)
        finally:
            await self.source.close()

    def _accept(self, fetched: Fetched) -> AllianceRegistry:
        candidate = verify(fetched.document, fetched.signature, self.trusted_keys, self.clock())
        held = self.current
        if held is not None and held.alliance.id != candidate.alliance.id:
            raise RegistryRefused(
                "rollback", f"the registry is of alliance {candidate.alliance.id!r}, this node holds {held.alliance.id!r}"
            )
        if held is not None and candidate.serial <= held.serial:
            problem = "is older than" if candidate.serial < held.serial else "has the same serial as, but differs from,"
            raise RegistryRefused(
                "rollback", f"registry serial {candidate.serial} {problem} serial {held.serial} in use; a new registry "
                "needs a higher serial"
            )
        self.current, self._current_document, self._refused = candidate, fetched.document, None
        self._expiry_reported = False
        log.info(
            "alliance registry of %s, serial %d, taken into use from %s: %d members on %d nodes, expires %s",
            candidate.alliance.name, candidate.serial, self.source, len(candidate.members), len(candidate.nodes),
            candidate.expires.isoformat(),
        )
        if self.metrics:
            self.metrics.serial.set(candidate.serial)
            self.metrics.expires.set(candidate.expires.timestamp())
        return candidate

    def _refuse(self, refusal: RegistryRefused) -> None:
        held = f"keeping serial {self.current.serial}" if self.current else "no registry in use yet"
        log.error("alliance registry from %s refused (%s): %s; %s", self.source, refusal.reason, refusal, held)
        if self.metrics:
            self.metrics.refused.labels(refusal.reason).inc()

    def _unavailable_now(self, message: str) -> None:
        if message != self._unavailable:
            held = f"keeping serial {self.current.serial}" if self.current else "no registry in use yet"
            log.error("alliance registry unavailable: %s; %s", message, held)
            self._unavailable = message
        if self.metrics:
            self.metrics.refused.labels("unavailable").inc()

    def _check_expiry(self) -> None:
        # An expired registry is kept (the alliance goes on working while the secretariat re-signs), but loudly.
        if self.current is not None and self.current.is_expired(self.clock()) and not self._expiry_reported:
            log.error(
                "alliance registry serial %d expired at %s and is still in use: the secretariat must sign a new one",
                self.current.serial, self.current.expires.isoformat(),
            )
            self._expiry_reported = True


def watcher_from_settings(settings: ServiceSettings, metrics: AllianceMetrics | None = None) -> RegistryWatcher:
    if not settings.alliance_registry_url or not settings.alliance_public_key_file:
        raise ValueError("ALLIANCE_REGISTRY_URL and ALLIANCE_PUBLIC_KEY_FILE are both needed to follow a registry")
    return RegistryWatcher(
        source_for(settings.alliance_registry_url),
        load_trusted_keys(settings.alliance_public_key_file),
        settings.alliance_registry_poll_seconds,
        metrics,
    )


async def watch_alliance(state: State) -> None:
    """A `Service.background` task: follow the configured registry and offer it as `state.alliance` (a
    RegistryWatcher; `state.alliance.registry` is the registry in use). Without ALLIANCE_REGISTRY_URL it does nothing.
    shared.service runs it for every service of a node that has ALLIANCE_REGISTRY_URL."""
    settings: ServiceSettings = state.settings
    if not settings.alliance_registry_url:
        return
    try:
        state.alliance = watcher_from_settings(settings, AllianceMetrics(state.metrics.registry))
    except (ValueError, OSError) as error:
        # A background task's exception would go unseen; the node runs on without the alliance, and says why.
        log.error("not following the alliance registry: %s", error)
        return
    await state.alliance.run()


def registry_in_use(state: State) -> AllianceRegistry | None:
    """The registry a service follows, as it stands now; None when the node follows none, or none could be loaded
    yet (then the node is on its own: only what it holds itself is trusted)."""
    watcher = getattr(state, "alliance", None)
    return watcher.current if isinstance(watcher, RegistryWatcher) else None


class RegistryInUse:
    """`registry_in_use` for code made before the service runs (Kafka handlers): a callable giving the registry in use,
    None until `bind` (a `Service.background` task) has been given the service's state."""

    def __init__(self) -> None:
        self._state: State | None = None

    async def bind(self, state: State) -> None:
        self._state = state

    def __call__(self) -> AllianceRegistry | None:
        return registry_in_use(self._state) if self._state is not None else None
