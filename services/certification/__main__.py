import sys

from services.certification.app import create_service
from shared.service import run

if sys.argv[1:2] == ["keys"]:
    from services.certification.signing_keys import main

    main(sys.argv[2:])
else:
    run(create_service(), sys.argv[1:])
