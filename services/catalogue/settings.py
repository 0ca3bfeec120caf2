from pydantic import Field

from shared.settings import ServiceSettings


class CatalogueSettings(ServiceSettings):
    service_name: str = "catalogue"
    http_port: int = 8001
    # The alliance's policy for descriptions (T4EU: 1 to 30 ECTS, 25 hours per ECTS).
    policy_name: str = "T4EU"
    policy_min_ects: float = Field(default=1, gt=0)
    policy_max_ects: float = Field(default=30, gt=0)
    policy_hours_per_ects: float = Field(default=25, gt=0)
    # How far the stated workload may stray from ECTS x hours per ECTS, as a fraction.
    policy_hours_tolerance: float = Field(default=0.2, ge=0)
