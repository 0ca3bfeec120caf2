from typing import Annotated

from pydantic import Field
from pydantic_settings import NoDecode

from shared.settings import CommaSeparated, ServiceSettings


class EnrolmentSettings(ServiceSettings):
    service_name: str = "enrolment"
    http_port: int = 8002
    # Registrations and reads hold a connection each while they run: keep enough for the requests a cohort has in
    # flight (bench/bench_apply.py keeps 32), so that none is opened and closed again per request.
    database_pool_size: int = Field(default=32, ge=1)
    # The alliance's institutions, by the codes tokens carry in `institution` (comma-separated in the environment):
    # their students and staff are alliance students and staff, who learn for free. Only for a node that follows no
    # alliance registry: the registry's members take its place (enrolment/learners.py). By default the institutions of
    # the demo and the tests.
    alliance_institutions: Annotated[frozenset[str], NoDecode, CommaSeparated] = Field(
        default=frozenset({"uni-saarland", "uni-sofia", "upr"})
    )
