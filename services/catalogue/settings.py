from typing import Annotated

from pydantic import Field
from pydantic_settings import NoDecode

from shared.settings import CommaSeparated, ServiceSettings


class CatalogueSettings(ServiceSettings):
    """The catalogue's settings, and the alliance's policy for descriptions (T4EU's by default).

    Other alliances set the policy through the environment, e.g. 4EU+: POLICY_NAME=4EU+ POLICY_MAX_ECTS=15;
    DEQAR's definition: POLICY_NAME=DEQAR POLICY_MAX_ECTS=60 POLICY_MAX_ECTS_EXCLUSIVE=true POLICY_EQF_LEVELS=5,6,7,8.
    """

    service_name: str = "catalogue"
    http_port: int = 8001
    # Named in every refusal, so a designer knows whose rule they broke.
    policy_name: str = "T4EU"
    policy_min_ects: float = Field(default=1, gt=0)
    policy_max_ects: float = Field(default=30, gt=0)
    # DEQAR counts a micro-credential as "less than 60 ECTS": the maximum itself is then not allowed.
    policy_max_ects_exclusive: bool = False
    policy_hours_per_ects: float = Field(default=25, gt=0)
    # How far the stated workload may stray from ECTS x hours per ECTS, as a fraction.
    policy_hours_tolerance: float = Field(default=0.2, ge=0)
    # The EQF levels a description may state (a description may also state none); comma-separated in the environment.
    policy_eqf_levels: Annotated[list[int], NoDecode, CommaSeparated] = Field(default_factory=lambda: list(range(1, 9)))
    # Joint courses (services/catalogue/consents.py): a partner's node that has not answered a request to consent is
    # asked again after this many seconds.
    consent_retry_seconds: float = Field(default=300.0, gt=0)
