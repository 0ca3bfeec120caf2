"""Notifications: tells learners by email what happened to them, and records every delivery."""
