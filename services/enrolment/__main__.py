import sys

from services.enrolment.app import create_service
from shared.service import run

run(create_service(), sys.argv[1:])
