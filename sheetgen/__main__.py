import sys

from sheetgen.cli import main

sys.exit(main())
