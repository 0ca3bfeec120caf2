"""Everything the node published while the kit ran, judged by the published contract alone: the JSON Schemas of
shared/events/schemas/ and the topic index shared/events/topics.json (conformance.contract)."""

from conformance.contract import EventContract
from conformance.kafka import Message
from conformance.run import DEAD_LETTER_REASON, Failed, Run
from shared.events import InvalidEvent, parse_envelope


def event_problems(message: Message, contract: EventContract, source: str) -> list[str]:
    """The rules of the contract one message on a node's topic breaks; empty when it conforms."""
    try:
        envelope = parse_envelope(message.value)  # Structured-mode CloudEvents 1.0: specversion, id, source, type...
    except InvalidEvent as error:
        return [f"{error} (a structured-mode CloudEvent 1.0 is required)"]
    if envelope.type not in contract.schemas:
        return [f"type {envelope.type!r} is not in the published contract (shared/events/schemas/)"]
    problems = [f"{problem} (the type's JSON Schema)" for problem in contract.data_problems(envelope.type, envelope.data)]
    homes = contract.topics_of(envelope.type)
    if message.topic not in homes:
        problems.append(
            f"{envelope.type} belongs on topic {' or '.join(homes)}, not on {message.topic} (shared/events/topics.json)"
        )
    if envelope.source != source:
        problems.append(f"source {envelope.source!r} is not the node's {source!r}: a node publishes under its own name")
    return problems


def _named(message: Message) -> str:
    return f"{message.where} ({message.field('type') or 'no type'}, id {message.field('id') or '-'})"


async def published_events(run: Run) -> None:
    """Every event the node published during the run is a CloudEvent of a known type, valid by its schema, on its topic, under the node's name"""
    dead_letter_topics = set(run.events.dead_letter_topics)
    published = [message for message in list(run.events.messages) if message.topic not in dead_letter_topics]
    topics = sorted({message.topic for message in published})
    run.record(
        f"Kafka: everything on {', '.join(run.contract.node_topics())} since the run began",
        f"{len(published)} events on {', '.join(topics) or 'no topic'}",
    )
    if not published:
        raise Failed("the node published no event during the run, although the checks made it enrol and grade")
    for message in published:
        if problems := event_problems(message, run.contract, run.description.source):
            run.record(f"Kafka: read {message.where}", message.text)
            for problem in problems:
                run.fail(f"{_named(message)}: {problem}")


async def no_stray_dead_letters(run: Run) -> None:
    """The node dead-lettered nothing during the run but the malformed messages the kit sent"""
    deliberate = run.facts.get("malformed", set())
    dead_letter_topics = set(run.events.dead_letter_topics)
    letters = [message for message in list(run.events.messages) if message.topic in dead_letter_topics]
    run.record(
        f"Kafka: everything on {', '.join(sorted(dead_letter_topics)) or 'the dead-letter topics'} since the run began",
        f"{len(letters)} dead letters, {sum((m.key, m.value) in deliberate for m in letters)} of them sent malformed",
    )
    for letter in letters:
        if (letter.key, letter.value) not in deliberate:
            run.record(f"Kafka: read {letter.where}", letter.text)
            run.fail(
                f"{_named(letter)} was dead-lettered (key {letter.key}): "
                f"{letter.headers.get(DEAD_LETTER_REASON) or 'no reason given'}"
            )
