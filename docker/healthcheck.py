"""Container health check of the ``rater worker`` image: is the worker process running?

The worker serves no HTTP endpoint (the Faust web server is disabled), so the honest check is the process
itself: some process whose command line is ``.../rater worker`` exists and is not a zombie. It does not
prove the worker is making progress; watch the consumer group's lag for that
(``kafka-consumer-groups.sh --describe --group rater``). Exit 0 when healthy, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path


def worker_pids(proc: Path = Path("/proc")) -> list[int]:
    """The ids of the live processes running ``rater worker``: the console script run by its Python
    (``.../python3.11 .../rater worker``) or directly (``rater worker``), not an init process that
    merely carries that command line (``docker-init -- rater worker``)."""
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [Path(arg.decode(errors="replace")).name for arg in (entry / "cmdline").read_bytes().split(b"\0")]
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        state = stat.rpartition(")")[2].split()[:1]
        if state in (["Z"], ["X"]):  # exited, not yet reaped: not running
            continue
        if argv[:2] == ["rater", "worker"] or (argv[0].startswith("python") and argv[1:3] == ["rater", "worker"]):
            pids.append(int(entry.name))
    return sorted(pids)


def main() -> int:
    return 0 if worker_pids() else 1


if __name__ == "__main__":
    sys.exit(main())
