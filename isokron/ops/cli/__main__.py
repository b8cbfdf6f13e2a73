"""Run ``python -m isokron.ops.cli``."""

import sys

from .entry import main

sys.exit(main())
