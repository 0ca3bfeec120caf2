"""Settings that take several values read them the same way in every service (comma-separated, or JSON's list)."""

import pytest

from services.catalogue.settings import CatalogueSettings
from services.certification.settings import CertificationSettings
from services.enrolment.settings import EnrolmentSettings
from services.notifications.settings import NotificationsSettings
from shared.settings import ServiceSettings

ISSUERS = "http://127.0.0.1:8180/realms/microcredentials, https://idp.uni-saarland.de/realms/staff"


@pytest.mark.parametrize(
    "settings", [ServiceSettings, CatalogueSettings, EnrolmentSettings, CertificationSettings, NotificationsSettings]
)
def test_every_service_takes_its_identity_providers_from_a_comma_separated_list(
    settings: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AUTH_OIDC_ISSUERS", ISSUERS)
    assert settings().auth_oidc_issuers == (
        "http://127.0.0.1:8180/realms/microcredentials", "https://idp.uni-saarland.de/realms/staff",
    )


def test_a_services_own_lists_read_the_same_way(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUTH_OIDC_ISSUERS", ISSUERS)
    monkeypatch.setenv("POLICY_EQF_LEVELS", "[5, 6, 7, 8]")
    monkeypatch.setenv("ALLIANCE_INSTITUTIONS", "uni-saarland,upr")
    assert CatalogueSettings().policy_eqf_levels == [5, 6, 7, 8]
    assert EnrolmentSettings().alliance_institutions == frozenset({"uni-saarland", "upr"})
    assert len(EnrolmentSettings().auth_oidc_issuers) == 2
