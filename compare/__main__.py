"""``python -m twostep.compare`` is the ``twostep`` command."""

import sys

from .cli import main

sys.exit(main())
