"""Certification: the learners' credentials, each holding every mandatory element of the Council Recommendation."""
