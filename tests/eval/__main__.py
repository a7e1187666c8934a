"""``python -m tests.eval``: the stale-line evaluation table, then its misses and false alarms."""

import sys

from .runner import main

sys.exit(main())
