"""The bundled JSON-LD contexts, and a document loader that serves only them: never the network.

Credentials name only standard contexts (W3C VC 2.0 and Open Badges 3.0), so that any verifier with the published
contexts checks them. The files live in `services/certification/contexts/`, listed in its `manifest.json` (URL ->
file); `tools/vc-verifier/check-contexts.mjs` checks that they equal the ones the npm packages publish, which Digital
Bazaar's verifier in `tools/vc-verifier/` loads.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

CONTEXTS_DIR = Path(__file__).resolve().parent.parent / "contexts"

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
# The @context of every credential this package builds, in this order.
CREDENTIAL_CONTEXT = [VC_V2, OB_V3]


class UnknownContext(LookupError):
    """A document asked for a context that is not bundled: refused rather than fetched."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD context {url!r} is not bundled (see services/certification/contexts/manifest.json); "
            "contexts are never fetched from the network"
        )
        self.url = url


@cache
def bundled_contexts() -> dict[str, Any]:
    """URL -> parsed context document, read once from the manifest."""
    manifest = json.loads((CONTEXTS_DIR / "manifest.json").read_text(encoding="utf-8"))
    return {url: json.loads((CONTEXTS_DIR / name).read_text(encoding="utf-8")) for url, name in manifest.items()}


def document_loader(url: str, options: dict | None = None) -> dict[str, Any]:
    """A pyld document loader over the bundled contexts only; any other URL raises `UnknownContext`."""
    try:
        document = bundled_contexts()[url]
    except KeyError:
        raise UnknownContext(url) from None
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}
