"""``python -m smkit.cli``: the same entry point as the ``smkit`` command."""

import sys

from smkit.cli import main

sys.exit(main())
