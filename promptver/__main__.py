import sys

from promptver.cli.main import main

sys.exit(main())
