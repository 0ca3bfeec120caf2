import sys

from services.certification.app import create_service
from shared.service import run

run(create_service(), sys.argv[1:])
