"""What a run found: one result per check (pass, fail, skipped, not applicable), each with the reasons it failed and
the exchanges behind it (what the kit sent, what came back); as text for people and as JSON for machines."""

import json
import textwrap
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# An exchange's text is kept up to this length (the JSON report); the text report shows its first line, shortened.
KEPT_CHARACTERS = 20_000
SHOWN_CHARACTERS = 240


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    # Not run, because what it checks did not come about (an earlier step failed): the failure is reported there.
    SKIPPED = "skipped"
    # The node does not have what the check is about yet; neither a pass nor a failure.
    NOT_APPLICABLE = "not applicable"


@dataclass
class Exchange:
    """One thing the kit sent (an HTTP request, a Kafka message, a wait for an event) and what came back."""

    sent: str
    received: str

    def __post_init__(self) -> None:
        self.sent, self.received = _kept(self.sent), _kept(self.received)


@dataclass
class Result:
    name: str
    title: str
    status: Status = Status.PASS
    reasons: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Report:
    node: str
    results: list[Result]

    @property
    def passed(self) -> bool:
        """No check failed (skipped checks follow from a failure, which is reported)."""
        return all(result.status != Status.FAIL for result in self.results)

    def text(self, exchanges: bool = True) -> str:
        lines = [f"Conformance of node {self.node}", ""]
        for result in self.results:
            lines.append(f"{result.status.upper():<15} {result.name} — {result.title} ({result.seconds:.1f} s)")
            for reason in result.reasons:
                lines.extend(_indented(reason, "    why: ", "         "))
            if exchanges and (result.status == Status.FAIL or result.status == Status.PASS):
                for exchange in result.exchanges:
                    lines.extend(_indented(_shown(exchange.sent), "    sent: ", "          "))
                    lines.extend(_indented(_shown(exchange.received), "    got:  ", "          "))
            lines.append("")
        counts = {status: sum(r.status == status for r in self.results) for status in Status}
        summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
        lines.append(f"{'CONFORMS' if self.passed else 'DOES NOT CONFORM'}: {summary}")
        return "\n".join(lines)

    def json(self) -> str:
        document: dict[str, Any] = {"node": self.node, "passed": self.passed, "results": [asdict(r) for r in self.results]}
        return json.dumps(document, indent=2, ensure_ascii=False)


def _kept(text: str) -> str:
    return text if len(text) <= KEPT_CHARACTERS else text[:KEPT_CHARACTERS] + f" … ({len(text)} characters)"


def _shown(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= SHOWN_CHARACTERS else one_line[:SHOWN_CHARACTERS] + " …"


def _indented(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, width=118, initial_indent=first, subsequent_indent=rest) or [first.rstrip()]
