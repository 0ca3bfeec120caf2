from shared.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    service_name: str = "assessment"
    http_port: int = 8003
    # The LMSs that may send grades and the institutions each grades for (services/assessment/lms_registry.py);
    # without it, every LMS submission is dead-lettered.
    lms_registry_file: str | None = None
