"""Log lines carry the trace id, so one journey's lines can be found across all five services' logs.

`LOG_FORMAT=json` writes one JSON object per line (time, level, service, trace_id, span_id, logger, message) for log
collectors; the default text format is for people.

While Kafka is away, aiokafka logs the same errors on every poll and reconnect (thousands of lines a minute): those
are logged the first time, then at most once a minute with how many were held back. The node's own account of an
outage is in shared/failures.py (once when it begins, once when it ends).
"""

import json
import logging
import time

from opentelemetry import trace


class _TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        record.trace_id = format(span_context.trace_id, "032x") if span_context.is_valid else "-"
        record.span_id = format(span_context.span_id, "016x") if span_context.is_valid else "-"
        return True


class RepeatsFilter(logging.Filter):
    """Lets through the first warning or error of each kind (logger and message template) from `prefixes`, then one
    per `interval` seconds, which tells how many like it were held back meanwhile."""

    def __init__(self, prefixes: tuple[str, ...] = ("aiokafka",), interval: float = 60.0) -> None:
        super().__init__()
        self._prefixes, self._interval = prefixes, interval
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self._prefixes):
            return True
        key, now = (record.name, str(record.msg)), time.monotonic()
        last, held_back = self._seen.get(key, (None, 0))
        if last is not None and now - last < self._interval:
            self._seen[key] = (last, held_back + 1)
            return False
        self._seen[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} (and {held_back} more like this in the last {now - last:.0f} s)"
        return True


class _JsonFormatter(logging.Formatter):
    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service = service_name

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "service": self._service,
            "trace_id": record.trace_id,
            "span_id": record.span_id,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(service_name: str, log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_TraceContextFilter())
    handler.addFilter(RepeatsFilter())
    if log_format == "json":
        handler.setFormatter(_JsonFormatter(service_name))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {service_name} trace=%(trace_id)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
