import sys

from shared.alliance.commands import main

sys.exit(main())
