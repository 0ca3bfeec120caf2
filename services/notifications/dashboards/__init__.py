"""Dashboards: every event of the node kept in order, streamed as Server-Sent Events, and the figures staff ask for.

The stream is resumable with `Last-Event-ID`: each event gets a sequence number when recorded, and the stream only
sends events whose recording transaction is older than every transaction still running, so a client that resumes
never misses an event committed late under a lower number (no gaps) and never gets one twice (no repeats).
"""
