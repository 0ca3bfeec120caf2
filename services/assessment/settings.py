from pydantic import Field

from shared.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    service_name: str = "assessment"
    http_port: int = 8003
    # The LMSs that may send grades and the institutions each grades for (services/assessment/lms_registry.py);
    # without it, every LMS submission is dead-lettered.
    lms_registry_file: str | None = None

    # A cohort's CSV (POST /grades/bulk) may be larger than other bodies (HTTP_MAX_BODY_BYTES), up to this many bytes
    # and grade rows; beyond either it is refused whole with 413 (send the cohort in parts).
    grades_csv_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    grades_csv_max_rows: int = Field(default=10_000, ge=1)
