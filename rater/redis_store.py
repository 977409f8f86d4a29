"""The Redis state store: the kernel of ``rater/lua/rater.lua`` behind :class:`~rater.state.AsyncStateStore`.

This is the only module of ``rater/`` that imports redis.  The kernel is a Redis Functions library, loaded
once (``FUNCTION LOAD REPLACE``, kept in the AOF across restarts) and called with ``FCALL``: unlike EVALSHA,
FCALL is routed by key inside a cluster pipeline, so the same code runs on one Redis and on Redis Cluster.
A batch is one pipeline: one round trip for all its records (on a cluster, one per node holding them).

Failures: a connection or timeout error is :class:`~rater.errors.RetriableError` (the caller retries the
batch; the kernel's dedupe makes a retry change nothing twice).  A library missing after a server restart
without persistence is reloaded and the batch retried once.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import hiredis
import orjson
from redis import exceptions as redis_errors
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection

from rater.errors import DrawRefused, RetriableError
from rater.keys import claim_key
from rater.state import DEFAULT_RETAIN, Counter, Draw, DrawRequest, DrawResult

LIBRARY = importlib.resources.files("rater").joinpath("lua/rater.lua").read_text(encoding="utf-8")

#: How long a record's draw result is kept for redeliveries (architecture property 2).
DEFAULT_RESULT_TTL = 7 * 24 * 3600

Client = Redis | RedisCluster


class HiredisPackingConnection(Connection):
    """redis-py's asyncio connection packs commands in pure Python, which costs more than the kernel call
    itself on the client (about 20 us for one ``rater_draw``); hiredis packs the same bytes in C (about
    3 us).  The first argument is split on spaces as redis-py does (``"FUNCTION LOAD"``)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        head = args[0]
        if (isinstance(head, str) and " " in head) or (isinstance(head, bytes) and b" " in head):
            args = (*head.split(), *args[1:])
        return [hiredis.pack_command(args)]


T = TypeVar("T")

#: What a Redis client raises when the store cannot answer now (a retry may succeed).
UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ClusterDownError)


async def guarded(awaitable: Awaitable[T]) -> T:
    """``await awaitable``, a store that cannot answer raised as :class:`~rater.errors.RetriableError` (the
    API answers it with ``503``, the worker retries it)."""
    try:
        return await awaitable
    except UNAVAILABLE as exc:
        raise RetriableError(f"state store unavailable: {exc}") from exc


def connect(url: str, **options: Any) -> Redis:
    """A client for ``url`` that packs commands with hiredis (plain ``redis://`` URLs; others as usual)."""
    if url.startswith("redis://"):
        pool = ConnectionPool.from_url(url, connection_class=HiredisPackingConnection, **options)
        return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections
    return Redis.from_url(url, **options)


def connect_cluster(nodes: Sequence[tuple[str, int]], **options: Any) -> RedisCluster:
    """A cluster client from ``(host, port)`` startup nodes (redis-py's packer: the async cluster client
    takes no connection class)."""
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes], **options)


def encode(request: DrawRequest, ttl: int) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of one ``rater_draw`` call (the layout in the library's header): per counter its
    period and allowance, led by its flags when it has options and followed by the values its flags call
    for.  What a counter does not use stays off the wire: a plain capped counter on a key of its own is two
    short arguments (its key is the next one in KEYS), ``full_allowance`` and ``carry_base`` only
    travel for rollover counters, the only ones that read them, and only when they differ from the
    allowance and 0, and ``tier_ends`` (flag ``e``: their count, then the ends) only for counters that
    keep tier entries; a one-tier bucket's is just ``e`` and ``0``."""
    keys = [request.record_key]
    args = [f"={request.quantity}" if request.whole else str(request.quantity), str(ttl)]
    for counter in request.counters:
        key = counter.key
        shared = key in keys
        if not shared:
            keys.append(key)
        if not (
            shared
            or counter.rollover
            or counter.limit_field is not None
            or counter.unbounded
            or counter.observe
            or counter.requires is not None
            or counter.retain != DEFAULT_RETAIN
            or counter.tier_ends is not None
        ):
            args += (str(counter.period), str(counter.allowance))
            continue
        flags = ""
        extra: list[str] = []
        if shared:
            flags += "k"
            extra.append(str(keys.index(key) + 1))
        if counter.unbounded:
            flags += "u"
        if counter.rollover:
            flags += "r"
            if counter.full_allowance != counter.allowance:
                flags += "f"
                extra.append(str(counter.full_allowance))
            if counter.carry_base:
                flags += "b"
                extra.append(str(counter.carry_base))
        if counter.limit_field is not None:
            flags += "l"
            extra += (counter.limit_field, str(counter.limit))
        if counter.observe:
            flags += "o"
            extra.append(str(counter.threshold))
            if counter.activate_now:
                flags += "n"
        if counter.requires is not None:
            required, field_name = counter.requires
            if required not in keys:
                keys.append(required)
            flags += "q"
            extra += (str(keys.index(required) + 1), field_name)
        if counter.retain != DEFAULT_RETAIN:
            flags += "t"
            extra.append(str(counter.retain))
        if counter.tier_ends is not None:
            flags += "e"
            extra.append(str(len(counter.tier_ends)))
            extra += map(str, counter.tier_ends)
        args += (flags, str(counter.period), str(counter.allowance))
        args += extra
    return keys, args


_new = tuple.__new__
_new_draw = functools.partial(tuple.__new__, Draw)


def decode(reply: bytes | str) -> DrawResult:
    """Parse the kernel's reply, a JSON array ``[replayed, remaining, [before, after, carry, allowance or
    null, limit before, limit after, marked, entered or null], ...]``.  A replayed result stored by an
    earlier kernel is read too: one without ``entered`` (7 values a counter: ``entered`` is ``None``, as
    for a counter that keeps no tier entries), and the text one (``remaining;b,a,c,al,lb,la,m;...``).

    The named tuples are built with ``tuple.__new__`` (in C; their Python ``__new__`` costs more than the
    parse): the kernel always sends the 8 values of a draw."""
    try:
        replayed, remaining, *rows = orjson.loads(reply)
    except orjson.JSONDecodeError:
        return _decode_stored_v1(reply)
    if replayed == 1:
        return DrawResult(tuple(Draw(*row) for row in rows), remaining, True)
    if replayed == 2:
        return DrawResult((), remaining, False, True)  # a whole-or-nothing draw refused: nothing written
    return _new(DrawResult, (tuple(map(_new_draw, rows)), remaining, False, False))


def _decode_stored_v1(reply: bytes | str) -> DrawResult:
    """A replay of a result stored by the kernel before the JSON reply: ``[1,`` + ``remaining;b,a,...;...``
    + ``]``."""
    text = reply.decode() if isinstance(reply, bytes) else reply
    body = text.removeprefix("[1,").removesuffix("]")
    numbers = list(map(int, body.replace(";", ",").split(",")))
    draws = tuple(
        Draw(
            numbers[i],
            numbers[i + 1],
            numbers[i + 2],
            None if numbers[i + 3] < 0 else numbers[i + 3],
            numbers[i + 4],
            numbers[i + 5],
            numbers[i + 6] == 1,
        )
        for i in range(1, len(numbers), 7)
    )
    return DrawResult(draws, numbers[0], True)


class RedisStore:
    """:class:`~rater.state.AsyncStateStore` on Redis or Redis Cluster."""

    def __init__(self, client: Client, *, result_ttl: int = DEFAULT_RESULT_TTL) -> None:
        self.client = client
        self.result_ttl = result_ttl
        self._loaded = False

    async def load(self) -> None:
        """Register the kernel library (on every primary of a cluster)."""
        try:
            if isinstance(self.client, RedisCluster):
                await self.client.execute_command(
                    "FUNCTION", "LOAD", "REPLACE", LIBRARY, target_nodes=RedisCluster.PRIMARIES
                )
            else:
                await self.client.function_load(LIBRARY, replace=True)
        except UNAVAILABLE as exc:
            raise RetriableError(f"state store unavailable: {exc}") from exc
        self._loaded = True

    async def draw_many(self, requests: Sequence[DrawRequest]) -> list[DrawResult]:
        """One pipelined ``FCALL rater_draw`` per request, in one round trip."""
        if not requests:
            return []
        if not self._loaded:
            await self.load()
        encoded = [encode(request, self.result_ttl) for request in requests]
        replies = await self._pipeline(encoded)
        if any(isinstance(reply, redis_errors.ResponseError) and _missing_library(reply) for reply in replies):
            await self.load()  # the server lost the library (restart without persistence)
            replies = await self._pipeline(encoded)
        out: list[DrawResult] = []
        for position, reply in enumerate(replies):
            if isinstance(reply, Exception):
                raise DrawRefused(position, f"the kernel refused the draw: {reply}")
            try:
                out.append(decode(reply))
            except (ValueError, TypeError) as exc:
                raise DrawRefused(position, f"unreadable kernel reply: {exc}") from exc
        return out

    async def _pipeline(self, encoded: list[tuple[list[str], list[str]]]) -> list[Any]:
        """Every draw in one pipeline; a command the server answers with an error comes back as that error
        in its place (the other commands ran)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            command = pipe.execute_command  # what pipe.fcall calls, without two layers of argument copies
            for keys, args in encoded:
                command("FCALL", "rater_draw", len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
        except UNAVAILABLE as exc:
            raise RetriableError(f"state store unavailable: {exc}") from exc

    async def draw(self, record_key: str, quantity: int, counters: Sequence[Counter]) -> DrawResult:
        (result,) = await self.draw_many([DrawRequest(record_key, quantity, tuple(counters))])
        return result

    async def fields(self, key: str) -> dict[str, int]:
        try:
            raw = await self.client.hgetall(key)
        except UNAVAILABLE as exc:
            raise RetriableError(f"state store unavailable: {exc}") from exc
        return {_text(name): int(value) for name, value in raw.items()}

    async def marked(self, keys: Sequence[str], field: str) -> list[bool]:
        """``HEXISTS`` of each key, pipelined (on a cluster, one round trip per node)."""
        if not keys:
            return []
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hexists(key, field)
            return [bool(reply) for reply in await pipe.execute()]
        except UNAVAILABLE as exc:
            raise RetriableError(f"state store unavailable: {exc}") from exc

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[str | None]:
        """``SET claim fingerprint NX GET EX ttl`` per record (Redis 7.0+), pipelined: the reply is the
        fingerprint kept first, or nil when this command kept ours."""
        if not claims:
            return []
        try:
            pipe = self.client.pipeline(transaction=False)
            for record_id, fingerprint in claims:
                pipe.set(claim_key(record_id), fingerprint, nx=True, get=True, ex=self.result_ttl)
            replies = await pipe.execute()
        except UNAVAILABLE as exc:
            raise RetriableError(f"state store unavailable: {exc}") from exc
        return [None if reply is None else _text(reply) for reply in replies]

    async def release(self, claims: Sequence[tuple[str, str]]) -> None:
        """``rater_release`` per claim (delete it if it still holds the fingerprint), pipelined."""
        if not claims:
            return
        if not self._loaded:
            await self.load()
        try:
            pipe = self.client.pipeline(transaction=False)
            for record_id, fingerprint in claims:
                pipe.fcall("rater_release", 1, claim_key(record_id), fingerprint)
            await pipe.execute()
        except UNAVAILABLE as exc:
            raise RetriableError(f"state store unavailable: {exc}") from exc

    async def mark(self, key: str, field: str, value: int) -> bool:
        if not self._loaded:
            await self.load()
        reply = await self.client.fcall("rater_mark", 1, key, field, str(value))
        return bool(int(reply))

    async def settle(
        self, operation_key: str, key: str, field: str, value: int, also: tuple[str, int] | None = None
    ) -> int:
        if not self._loaded:
            await self.load()
        args = [field, str(value), str(self.result_ttl)]
        if also is not None:
            args += (also[0], str(also[1]))
        reply = await self.client.fcall("rater_settle", 2, operation_key, key, *args)
        return int(reply)

    async def adjust(
        self,
        operation_key: str,
        key: str,
        field: str,
        expected: int,
        value: int,
        payload: bytes,
        also: tuple[str, int] | None = None,
    ) -> bytes | None:
        """``rater_adjust``: :meth:`rater.state.MemoryStore.adjust` in one atomic call."""
        if not self._loaded:
            await self.load()
        args: list[str | bytes] = [field, str(expected), str(value), str(self.result_ttl), payload]
        if also is not None:
            args += (also[0], str(also[1]))
        try:
            reply = await self.client.fcall("rater_adjust", 2, operation_key, key, *args)
        except UNAVAILABLE as exc:
            raise RetriableError(f"state store unavailable: {exc}") from exc
        if reply is None:
            return None
        return reply if isinstance(reply, bytes) else str(reply).encode()


def _missing_library(error: Exception) -> bool:
    """The server answers ``ERR Function not found`` when it lost the library (a restart without persistence)."""
    return "function not found" in str(error).lower()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


#: Reads many counter hashes in one atomic step (balances).  A script runs between two kernel calls, never
#: inside one, so a view never shows a half-applied record; every key carries one sharing root's hash tag,
#: so on a cluster the script runs on the one node holding them.  ``no-writes``: it may run on a replica.
READ_HASHES = """#!lua flags=no-writes
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGETALL', key)
end
return out
"""


async def read_hashes(client: Client, keys: Sequence[str]) -> dict[str, dict[str, int]]:
    """The integer fields of every hash in ``keys`` (all under one hash tag), read atomically; a key that
    does not exist maps to ``{}``.  Connection failures are :class:`~rater.errors.RetriableError`."""
    if not keys:
        return {}
    try:
        replies = await client.eval(READ_HASHES, len(keys), *keys)
    except UNAVAILABLE as exc:
        raise RetriableError(f"state store unavailable: {exc}") from exc
    out: dict[str, dict[str, int]] = {}
    for key, flat in zip(keys, replies, strict=True):
        out[key] = {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
    return out
