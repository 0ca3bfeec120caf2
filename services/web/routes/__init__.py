"""The front end's pages, one module per audience; a new module's router is added to ROUTERS (see pages.py)."""

from services.web.routes import auth, employer, learner, public, quality
from services.web.routes import assessor, registrar
from services.web.routes.employer import VERIFY_UPLOAD_LIMIT

ROUTERS = [auth.router, public.router, learner.router, employer.router, quality.router]
ROUTERS += [registrar.router, assessor.router]

__all__ = ["ROUTERS", "VERIFY_UPLOAD_LIMIT"]
