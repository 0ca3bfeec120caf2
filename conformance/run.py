"""The runner: connects to the node as the description says, runs each check in turn, and collects one result per check.

A check is an async function taking the `Run`: it talks to the node through it (every request, message and wait is
recorded as an exchange of the check's result), and it fails by raising `Failed` with the reason, or by calling
`run.fail(reason)` to go on and report several. `NotApplicable` says the node has nothing to check yet; `Skipped`
that what it checks did not come about because an earlier check failed.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from conformance import contract
from conformance.description import NodeDescription
from conformance.kafka import EventLog, Producer, Message
from conformance.partner import Partner
from conformance.people import People, Person
from conformance.report import Exchange, Report, Result, Status
from shared.events import CloudEvent
from shared.events.alliance import AddressedMessage
from shared.events.topics import lms_topic

# The node's dead-letter topics: `mc.<service>.dead-letter`, the reason in this header.
DEAD_LETTER_TOPICS = r"mc\.[a-z0-9-]+\.dead-letter"
DEAD_LETTER_REASON = "x-dead-letter-reason"


class Failed(Exception):
    """The node does not do what the check requires; the message says what and why."""


class NotApplicable(Exception):
    """The node has nothing this check could look at yet."""


class Skipped(Exception):
    """What the check looks at did not come about: an earlier check failed, and says why."""


@dataclass(frozen=True)
class Check:
    name: str
    function: Callable[["Run"], Awaitable[None]]

    @property
    def title(self) -> str:
        return (self.function.__doc__ or self.name).strip().split("\n")[0]


class Run:
    """What a check has at hand: the node's description, its HTTP APIs, the auditor's event log, the LMS, test users,
    and the facts earlier checks found (`facts`: the journey's course, offering and credential)."""

    def __init__(
        self,
        description: NodeDescription,
        http: httpx.AsyncClient,
        events: EventLog,
        lms: Producer,
        timeout: float,
        api_examples: int | None = None,
    ) -> None:
        self.description = description
        self.http = http
        self.events = events
        self.lms = lms
        self.timeout = timeout
        # Generated requests per HTTP operation (the http-apis check's own default when None).
        self.api_examples = api_examples
        self.people = People(description.tokens, description.institution)
        self.contract = contract.events()
        self.facts: dict[str, Any] = {}
        self.result = Result("", "")
        self._partner: Partner | None = None

    # --- the kit as a partner node (the exchanges between nodes) ---

    async def partner(self) -> Partner:
        """The kit's partner node on the alliance bus, started at its first use; NotApplicable without the node
        description's `alliance` section, Failed when it cannot connect or serve."""
        if self.description.alliance is None:
            raise NotApplicable(
                "the node description has no `alliance` section: the kit cannot act as a partner node of this node "
                "(README.md, \"Checking a node: the conformance kit\", says how to give one)"
            )
        if self._partner is None:
            partner = Partner(self.description)
            alliance = self.description.alliance
            sent = (
                f"serve {partner.did_document_url()}; Kafka (alliance bus): read {partner.inbox_topic} and write "
                f"{partner.outbox.topic} as {partner.outbox.principal}"
            )
            try:
                async with asyncio.timeout(self.timeout):
                    await partner.start()
            except Exception as error:
                await partner.stop()
                self.record(sent, f"{type(error).__name__}: {error}")
                raise Failed(f"the kit cannot act as partner node {alliance.node}: {type(error).__name__}: {error}") from error
            self.record(sent, f"serving {alliance.did}; reading from the end of the topic")
            self._partner = partner
        return self._partner

    async def addressed(self, event_type: str, **fields: Any) -> Message:
        """The first message of this type whose data has these values that the node under test addressed to the kit's
        partner node on the alliance bus since it started; Failed when none comes in time."""
        partner = await self.partner()
        wanted = {f"data.{name}": value for name, value in fields.items()}
        described = f"{event_type} with {', '.join(f'{k}={v}' for k, v in wanted.items())}"
        message = await partner.inbox.wait_for(
            lambda m: m.field("type") == event_type and all(m.field(k) == v for k, v in wanted.items()), self.timeout
        )
        if message is None:
            self.record(f"Kafka (alliance bus): wait for {described}", f"nothing within {self.timeout:.0f} s")
            raise Failed(f"the node addressed no {described} to the kit's node within {self.timeout:.0f} s")
        self.record(f"Kafka (alliance bus): wait for {described}", f"{message.where}: {message.text}")
        return message

    async def answer(self, message: AddressedMessage, envelope: CloudEvent | None = None) -> CloudEvent:
        """Send a message as the kit's partner node (a new CloudEvent, or `envelope` again); recorded."""
        partner = await self.partner()
        envelope, where = await partner.send(message, envelope)
        self.record(f"Kafka (alliance bus): produce onto {partner.outbox.topic}: {envelope.to_bytes().decode()}",
                    f"stored at {where}")
        return envelope

    async def close(self) -> None:
        if self._partner is not None:
            await self._partner.stop()

    # --- what a check reports ---

    def record(self, sent: str, received: str) -> None:
        self.result.exchanges.append(Exchange(sent, received))

    def fail(self, reason: str) -> None:
        """The check fails for this reason, and goes on to find more."""
        self.result.reasons.append(reason)

    def needs(self, fact: str, which_check: str) -> Any:
        """A fact an earlier check found; Skipped when it did not find it."""
        if fact not in self.facts:
            raise Skipped(f"needs the {fact.replace('_', ' ')} that the {which_check} check did not get")
        return self.facts[fact]

    # --- HTTP ---

    async def call(
        self, method: str, service: str, path: str, *, by: Person | None = None, quiet: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """A request to one of the node's APIs, as `by` (a test user) or anonymously; recorded unless `quiet`."""
        url = self.description.url(service, path)
        headers = {"Authorization": f"Bearer {by.token}"} if by else {}
        sent = f"{method} {url}" + (f" as {by.role} {by.subject}" if by else "")
        if "params" in kwargs:
            sent += f" ?{httpx.QueryParams(kwargs['params'])}"
        if "json" in kwargs:
            sent += f" {json.dumps(kwargs['json'], ensure_ascii=False)}"
        try:
            response = await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            self.record(sent, f"no answer: {type(error).__name__}: {error}")
            raise Failed(f"{method} {url} got no answer: {error}") from error
        if not quiet:
            self.record(sent, f"{response.status_code} {response.text}")
        return response

    async def fetch(self, url: str, *, by: Person | None = None, quiet: bool = False) -> httpx.Response:
        """A GET of an absolute URL the node gave (a credential, a status list, a DID document), anonymous or as `by`;
        recorded unless `quiet`."""
        headers = {"Accept": "application/json, application/ld+json"}
        if by is not None:
            headers["Authorization"] = f"Bearer {by.token}"
        sent = f"GET {url}" + (f" as {by.role} {by.subject}" if by else "")
        try:
            response = await self.http.get(url, headers=headers)
        except httpx.HTTPError as error:
            self.record(sent, f"no answer: {type(error).__name__}: {error}")
            raise Failed(f"GET {url} got no answer: {error}") from error
        if not quiet:
            self.record(sent, f"{response.status_code} {response.text}")
        return response

    async def ok(self, method: str, service: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        """The JSON of an answer with the expected status; Failed naming the request and the answer otherwise."""
        response = await self.call(method, service, path, **kwargs)
        if response.status_code != expect:
            raise Failed(f"{method} {service} {path} answered {response.status_code}, expected {expect}: {response.text}")
        try:
            return response.json()
        except ValueError as error:
            raise Failed(f"{method} {service} {path} answered {response.status_code} without JSON: {response.text}") from error

    async def until(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        """Ask again (the node is eventually consistent across its services) until `probe` gives something."""
        started, tries = time.monotonic(), 0
        while time.monotonic() - started < self.timeout:
            tries += 1
            if (found := await probe()) is not None:
                self.record(f"wait until {what}", f"after {tries} tries, {time.monotonic() - started:.1f} s")
                return found
            await asyncio.sleep(0.3)
        self.record(f"wait until {what}", f"not within {self.timeout:.0f} s ({tries} tries)")
        raise Failed(f"waited {self.timeout:.0f} s for {what}")

    # --- Kafka ---

    async def send_as_lms(self, key: str, value: bytes | dict[str, Any]) -> None:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        sent = f"Kafka: produce onto {self.lms.topic} as {self.lms.principal}, key {key}: {body.decode(errors='replace')}"
        try:
            where = await self.lms.send(key, body)
        except Exception as error:
            self.record(sent, f"refused: {type(error).__name__}: {error}")
            raise Failed(f"the LMS could not send onto {self.lms.topic}: {error}") from error
        self.record(sent, f"stored at {where}")

    async def event(self, *event_types: str, **fields: Any) -> Message:
        """The first event of one of these types whose data has these values (`learner__learner_id` for
        data.learner.learner_id), published by the node since the run began; Failed when none comes in time."""
        wanted = {f"data.{name.replace('__', '.')}": value for name, value in fields.items()}
        described = f"{' or '.join(event_types)} with {', '.join(f'{k}={v}' for k, v in wanted.items())}"
        message = await self.events.wait_for(
            lambda m: m.field("type") in event_types and all(m.field(k) == v for k, v in wanted.items()), self.timeout
        )
        if message is None:
            self.record(f"Kafka: wait for {described}", f"nothing within {self.timeout:.0f} s")
            raise Failed(f"the node published no {described} within {self.timeout:.0f} s")
        self.record(f"Kafka: wait for {described}", f"{message.where}: {message.text}")
        return message


async def run_checks(
    description: NodeDescription, checks: Sequence[Check], timeout: float = 60.0, api_examples: int | None = None
) -> Report:
    """Every check in order, each with its result, after a first one that the kit can reach the node's Kafka."""
    events = EventLog(
        description.kafka_settings(description.kafka.auditor), contract.events().node_topics(), DEAD_LETTER_TOPICS
    )
    lms_settings = description.kafka_settings(description.kafka.lms)
    lms = Producer(lms_settings, lms_topic(description.kafka.lms.id, description.kafka.topic_prefix))
    results = []
    async with httpx.AsyncClient(timeout=30.0, follow_redirects=False) as http:
        run = Run(description, http, events, lms, timeout, api_examples)
        setup = Check("kafka-access", _connect)
        results.append(await _one(run, setup))
        try:
            for check in checks:
                if results[0].status == Status.PASS:
                    results.append(await _one(run, check))
                else:
                    results.append(Result(check.name, check.title, Status.SKIPPED, ["the kit could not reach the node's Kafka"]))
        finally:
            await asyncio.gather(events.stop(), lms.stop(), run.close(), return_exceptions=True)
    return Report(description.source, results)


async def _connect(run: Run) -> None:
    """The kit reads the node's topics as the auditor and writes the LMS's topic as the LMS"""
    try:
        async with asyncio.timeout(run.timeout):
            await run.events.start()
            await run.lms.start()
    except Exception as error:
        raise Failed(f"cannot connect to the node's Kafka: {type(error).__name__}: {error}") from error
    run.record(
        f"Kafka: read {', '.join(run.contract.node_topics())} and the dead-letter topics as {run.events.principal}; "
        f"write {run.lms.topic} as {run.lms.principal}",
        f"reading from the end of each; dead-letter topics: {', '.join(run.events.dead_letter_topics) or 'none'}",
    )


async def _one(run: Run, check: Check) -> Result:
    result = run.result = Result(check.name, check.title)
    started = time.monotonic()
    try:
        await check.function(run)
    except Failed as failure:
        result.reasons.append(str(failure))
    except NotApplicable as reason:
        result.status = Status.NOT_APPLICABLE
        result.reasons.append(str(reason))
    except Skipped as reason:
        result.status = Status.SKIPPED
        result.reasons.append(str(reason))
    except Exception as error:  # A check that breaks is reported, and the others still run.
        result.reasons.append(f"the check could not finish: {type(error).__name__}: {error}")
    if result.reasons and result.status == Status.PASS:
        result.status = Status.FAIL
    result.seconds = time.monotonic() - started
    return result
