"""The notifications service's settings, from the environment (names in capitals: SMTP_HOST, MAIL_FROM, ...)."""

from pydantic import Field, model_validator

from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8005

    # --- the SMTP relay ---
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    # Authentication (AUTH PLAIN/LOGIN, whichever the relay offers) when both are set.
    smtp_username: str | None = None
    smtp_password: str | None = None
    # STARTTLS after connecting (submission, usually port 587) ...
    smtp_starttls: bool = False
    # ... or TLS from the first byte (SMTPS, usually port 465). Not both.
    smtp_tls: bool = False
    # Whether the relay's certificate must verify against the system's CAs (leave on for a real relay).
    smtp_validate_certs: bool = True
    # Bounds each SMTP exchange (connect, each command); a whole send is bounded by twice this.
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    # The From header, and the envelope sender; its domain also names the emails' Message-IDs.
    mail_from: str = "Micro-credentials <no-reply@microcredentials.local>"

    # --- templates ---
    # A folder searched before the built-in templates (`<lang>/<name>.subject.txt|.txt|.html`): a university's
    # wording and branding, for some templates or languages only; everything else falls back to the built-in ones.
    templates_dir: str | None = None

    # --- opting out ---
    # Where learners reach this service: the unsubscribe links in optional emails point to <this>/unsubscribe.
    unsubscribe_base_url: str = "http://127.0.0.1:8005"
    # Signs the unsubscribe links; by default a random secret the first migration stored in the database.
    unsubscribe_secret: str | None = None

    # --- dashboards ---
    # How many event streams (GET /dashboard/events) one instance serves at once; one more is refused with 503 and
    # Retry-After. Each open stream looks for new events a few times a second.
    dashboard_max_streams: int = Field(default=20, ge=1)

    # --- the delivery worker ---
    # How many connections to the relay a worker keeps open and sends on in parallel, each carrying one email after
    # another. Each email waits for round trips more than for CPU: a 10,000-learner cohort's emails went 244 -> 323/s
    # from 4 to 16, and 365/s with 32 and a DELIVERY_BATCH_SIZE of 200 (bench/bench_cohort.py). Lower it for a relay
    # that limits a client's connections (Postfix allows 50 by default).
    smtp_connections: int = Field(default=32, ge=1)
    # A kept connection idle for longer than this is checked with a NOOP before it carries an email (mailer.py).
    smtp_idle_check_seconds: float = Field(default=2.0, ge=0)
    # A transient failure (connection refused, timeout, 4xx) is retried, backing off from delivery_backoff_seconds,
    # doubling up to delivery_backoff_max_seconds, until delivery_max_attempts or delivery_max_age_seconds (from the
    # event's arrival) is reached: then the delivery is failed and NotificationFailed published.
    delivery_max_attempts: int = Field(default=10, ge=1)
    delivery_max_age_seconds: float = Field(default=24 * 3600, gt=0)
    delivery_backoff_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_max_seconds: float = Field(default=600.0, gt=0)
    # How many deliveries one worker holds claimed and not yet recorded, at most (each instance runs one worker): it
    # claims again whenever half of them have gone out, so that its connections always have emails waiting.
    # Keep it well above SMTP_CONNECTIONS.
    delivery_batch_size: int = Field(default=200, ge=1)
    # The worker wakes up on NOTIFY when a delivery is recorded; this is the fallback poll, which also picks up retries.
    delivery_poll_seconds: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> "NotificationsSettings":
        if self.smtp_starttls and self.smtp_tls:
            raise ValueError("SMTP_STARTTLS and SMTP_TLS exclude each other: STARTTLS upgrades a plain connection")
        return self

    @property
    def delivery_lease_seconds(self) -> float:
        """How long a claimed delivery stays the claiming worker's: beyond the longest send (2 x the SMTP timeout)."""
        return 3 * self.smtp_timeout_seconds + 5
