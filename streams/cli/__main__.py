"""``python -m streams.cli``: the ``rater`` console script."""

import sys

from streams.cli.main import main

sys.exit(main())
