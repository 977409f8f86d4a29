"""The ``rater`` console script (streams/cli/main.py) and its operator commands (streams/cli/ops.py)."""
