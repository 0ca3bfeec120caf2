import os

from pydantic import Field

from shared.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    service_name: str = "certification"
    http_port: int = 8004
    # Where learners and employers reach this service; credential links, status lists and the did:web DIDs of the
    # institutions this node signs for (`did:web:<host%3Aport>:institutions:<id>`) are built from it.
    public_url: str = "http://127.0.0.1:8004"
    # The page people verify a credential on: the QR code of every certificate and the emails point to
    # <this>?id=<credential id>. By default this service's own page; a node with the web front end names the front
    # end's (<its public URL>/verify), which shows the verdict in the reader's language.
    verify_page_url: str | None = None
    # A folder outside the repository holding one `<institution>.pem` (Ed25519, PKCS#8) per institution this node signs
    # for; create them with `python -m services.certification keys --institution <id> --dir <folder>`. Without a key
    # for a course's lead awarding institution, no credential is issued (the grade is dead-lettered with the reason).
    issuer_keys_dir: str | None = None
    # Entries per status list (bits). The W3C Bitstring Status List needs at least 131072 (16 KB) for herd privacy.
    status_list_length: int = Field(default=131072, ge=131072)
    # Worker processes that sign credentials and check proofs (POST /verify, the page GET /verify, endorsements,
    # members' credentials) beside the service's own process (services/certification/workers.py), the two kinds of work
    # taking turns; 0 does both in the service's process (tests only, to start quickly). By default one per core but
    # one, which the service's own process needs: on 2 cores one worker issued 210 credentials/s, two 179/s, none
    # 141/s (bench/bench_issuing.py).
    proof_processes: int = Field(default_factory=lambda: max((os.cpu_count() or 1) - 1, 1), ge=0)
    # The largest credential /verify accepts (bytes); larger bodies are answered 413 before they are read whole. A
    # joint credential with a few endorsements is 10-30 kB.
    verify_max_bytes: int = Field(default=256 * 1024, ge=1024)
    # Checks waiting or running at once; more are answered 503 (each holds its credential in memory meanwhile).
    verify_max_in_flight: int = Field(default=16, ge=1)
    # Development only: also vouch for credentials whose issuer is a did:key (anyone can make one; its name is then
    # shown as unconfirmed). Off by default: a did:key issuer is reported as not a known university.
    trust_did_key_issuers: bool = False
    # Credentials of the alliance's other members (services/certification/resolver.py): their DID documents and status
    # lists are fetched from their nodes, and only from hosts the alliance registry lists. Each fetch as a whole
    # (connecting, waiting, reading) ends after this long.
    member_fetch_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long a member's DID document is used before it is fetched again (keys change rarely, and by a new key id).
    did_cache_seconds: float = Field(default=3600.0, ge=0)
    # How long a member's status list is believed before it is fetched again: a credential revoked at its node shows
    # as revoked here at most this long after. Bitstring Status List's default `ttl` is five minutes.
    status_list_cache_seconds: float = Field(default=300.0, ge=0)
    # Joint credentials (services/certification/endorsements.py): an endorsement asked of a co-awarding institution's
    # node and not yet received is asked again after this long.
    endorsement_retry_seconds: float = Field(default=300.0, gt=0)
    # Stacking across nodes (services/certification/presented_parts.py): how often the status of each part a learner
    # presented (another node's credential) is read again; a programme credential standing on a part revoked since is
    # revoked. The issuer's node also says when it revokes one (PartRevoked), which is acted on at once.
    presented_parts_recheck_seconds: float = Field(default=3600.0, gt=0)
    # The largest presentation (one or more credentials, or a Verifiable Presentation) POST
    # /programmes/{id}/presentations accepts (bytes).
    presentation_max_bytes: int = Field(default=1024 * 1024, ge=1024)
