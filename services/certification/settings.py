from shared.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    service_name: str = "certification"
    http_port: int = 8004
    # Where learners and employers reach this service; credential links are built from it.
    public_url: str = "http://127.0.0.1:8004"
