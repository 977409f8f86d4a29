"""``python -m streams.worker``: the worker, as ``rater worker`` runs it."""

import sys

from streams.worker.main import main

sys.exit(main())
