"""Kafka topics: one per producing service and aggregate, several event types per topic, keyed by aggregate id."""

from enum import StrEnum


class Topic(StrEnum):
    COURSES = "mc.catalogue.courses"
    OFFERINGS = "mc.catalogue.offerings"
    PROGRAMMES = "mc.catalogue.programmes"
    ENROLMENTS = "mc.enrolment.enrolments"
    # Inbound: grade submissions from LMS integrations. Untrusted until assessment has validated them.
    GRADE_SUBMISSIONS = "mc.lms.grade-submissions"
    GRADES = "mc.assessment.grades"
    CREDENTIALS = "mc.certification.credentials"
    NOTIFICATIONS = "mc.notifications.deliveries"


def topic_name(topic: str, prefix: str = "") -> str:
    """The name on the cluster; the prefix isolates a node or a test run sharing one cluster."""
    return f"{prefix}{topic}"


def dead_letter_topic(service_name: str, prefix: str = "") -> str:
    """Each consuming service has its own dead-letter topic, so a replay goes back to that service only."""
    return f"{prefix}mc.{service_name}.dead-letter"
