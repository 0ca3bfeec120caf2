"""Kafka topics: one per producing service and aggregate, several event types per topic, keyed by aggregate id.

LMSs are the exception: each LMS writes grade submissions onto a topic of its own, `mc.lms.<lms-id>.grade-submissions`,
which only its Kafka principal may write (deploy/kafka_security.py), so the broker itself tells which LMS sent a
submission. The enum holds that family as a template; `lms_topic` names one LMS's topic.
"""

import re
from collections.abc import Iterable
from enum import StrEnum


class Topic(StrEnum):
    COURSES = "mc.catalogue.courses"
    OFFERINGS = "mc.catalogue.offerings"
    PROGRAMMES = "mc.catalogue.programmes"
    ENROLMENTS = "mc.enrolment.enrolments"
    # Inbound: grade submissions, one topic per LMS. Untrusted until assessment has validated them.
    GRADE_SUBMISSIONS = "mc.lms.{lms}.grade-submissions"
    GRADES = "mc.assessment.grades"
    CREDENTIALS = "mc.certification.credentials"
    NOTIFICATIONS = "mc.notifications.deliveries"


# An LMS id is one topic-name segment: lower-case letters, digits and dashes.
LMS_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_PARAMETER = re.compile(r"\{[a-z_]+\}")


def topic_name(topic: str, prefix: str = "") -> str:
    """The name on the cluster; the prefix isolates a node or a test run sharing one cluster."""
    return f"{prefix}{topic}"


def dead_letter_topic(service_name: str, prefix: str = "") -> str:
    """Each consuming service has its own dead-letter topic, so a replay goes back to that service only."""
    return f"{prefix}mc.{service_name}.dead-letter"


def is_family(topic: str) -> bool:
    """A template such as `mc.lms.{lms}.grade-submissions`: one topic per value of its parameter."""
    return bool(_PARAMETER.search(topic))


def family_prefix(topic: str, prefix: str = "") -> str:
    """What every topic of a family starts with (the name of a prefixed ACL), e.g. `mc.lms.`."""
    return topic_name(topic[: _PARAMETER.search(topic).start()], prefix)  # type: ignore[union-attr]


def subscription_pattern(topics: Iterable[str], prefix: str = "") -> str:
    """A regular expression matching exactly these topics under the prefix, a family standing for all its topics."""
    alternatives = []
    for topic in topics:
        parts = _PARAMETER.split(topic_name(topic, prefix))
        alternatives.append(r"[a-z0-9-]+".join(re.escape(part) for part in parts))
    return f"^(?:{'|'.join(alternatives)})$"


def lms_topic(lms_id: str, prefix: str = "") -> str:
    """The topic that LMS `lms_id`, and only it, writes its grade submissions onto."""
    if not LMS_ID.fullmatch(lms_id):
        raise ValueError(f"LMS id {lms_id!r}: lower-case letters, digits and dashes only, at most 63")
    return topic_name(Topic.GRADE_SUBMISSIONS.format(lms=lms_id), prefix)


def lms_of_topic(topic: str, prefix: str = "") -> str | None:
    """The LMS whose topic this is, or None for any other topic."""
    head, tail = Topic.GRADE_SUBMISSIONS.split("{lms}")
    head = topic_name(head, prefix)
    if not (topic.startswith(head) and topic.endswith(tail)):
        return None
    lms_id = topic[len(head) : -len(tail)]
    return lms_id if LMS_ID.fullmatch(lms_id) else None


def lms_source(lms_id: str) -> str:
    """The CloudEvents `source` an LMS's events carry."""
    return f"urn:microcredentials:lms:{lms_id}"


def lms_of_source(source: str) -> str | None:
    """The LMS a CloudEvents `source` names, or None when it names no LMS."""
    lms_id = source.removeprefix(lms_source(""))
    return lms_id if lms_id != source and LMS_ID.fullmatch(lms_id) else None
