import sys

from services.alliance.app import create_service, missing_settings
from services.alliance.settings import AllianceSettings
from shared.service import run

settings = AllianceSettings()
if (sys.argv[1:2] or ["serve"])[0] == "serve" and (missing := missing_settings(settings)):
    raise SystemExit(f"the alliance gateway runs only on a node of an alliance: set {' and '.join(missing)}")
run(create_service(settings), sys.argv[1:])
