"""Event contracts and the plumbing every service shares (settings, database, outbox, consumer, tracing, health).

Nothing here knows about any one service's domain; services import from here, never from each other.
"""
