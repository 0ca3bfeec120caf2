"""Enrolment: learners, their applications to approved micro-credentials, and who is enrolled in what."""
