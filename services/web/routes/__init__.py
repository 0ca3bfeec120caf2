"""The front end's pages, one module per audience; a new module's router is added to ROUTERS (see pages.py)."""

from services.web.routes import (
    assessor,
    auth,
    consents,
    designer,
    documents,
    employer,
    learner,
    public,
    quality,
    registrar,
)
from services.web.routes.employer import VERIFY_UPLOAD_LIMIT

ROUTERS = [
    auth.router, public.router, learner.router, employer.router, quality.router, designer.router, registrar.router,
    assessor.router,
    consents.router,
    # The node's public documents (DIDs, status lists, credentials), passed to certification under the front end's
    # origin.
    documents.router,
]

__all__ = ["ROUTERS", "VERIFY_UPLOAD_LIMIT"]
