import sys

from services.web.app import run

run(sys.argv[1:])
