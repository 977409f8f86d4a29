"""The configuration store: the catalog and accounts in force, in Redis, changed only by compare-and-set.

Layout (keys built in :mod:`rater.keys`, one hash tag per deployment ``RATER_APP_ID``):

* ``rater:{config:<app>}:version``: an integer, 0 or missing before the first configuration;
* ``rater:{config:<app>}:catalog``: the catalog document (JSON: the catalog files as one mapping of sections);
* ``rater:{config:<app>}:accounts``: a hash, account id -> the account as JSON (``subscriptions.yaml`` form);
* ``rater:{config:<app>}:operation:<id>``: the result of operation ``<id>`` (applied or refused), kept
  :data:`RESULT_TTL` seconds: an id applied once is never applied again (idempotence);
* ``rater:{config:<app>}:log``: the latest applied operations, newest first (at most :data:`LOG_LENGTH`);
* ``rater:{config:<app>}:workers``: a hash, worker (host:pid) -> the version it rates with and since when.

A change is: read a snapshot (version ``v``), apply the operation with the pure
:func:`rater.provisioning.apply`, then one script call writes the changed documents, the result and
``version = v + 1`` only if the version is still ``v``; otherwise the operation is applied again to the
newer snapshot.  Concurrent provisioners (API replicas, the topic consumer, the CLI) therefore never lose
an update, and a refused operation writes nothing but its result.

Workers read ``version`` once per batch (one GET) and rebuild their :class:`~rater.rating.Rater` when it
moved (:class:`LiveRater`).  The first start seeds the store from the ``RATER_CONFIG`` files; from then on
the store is the configuration, and the files are not read again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from rater.catalog import catalog_document, load_catalog
from rater.errors import RetriableError
from rater.keys import config_key, operation_key
from rater.provisioning import Config, Operation, ProvisioningError, account_json, apply, compile_config
from rater.rating import Rater
from rater.redis_store import guarded
from rater.subscriptions import Account, load_subscriptions

log = logging.getLogger("rater.config")

#: Seconds an operation's result is kept (idempotence window for retried operations).
RESULT_TTL = 90 * 24 * 3600
#: Applied operations kept in the log.
LOG_LENGTH = 1000
#: Attempts of one operation against concurrent changes before giving up (retriable).
ATTEMPTS = 50

# KEYS: version, catalog, accounts, operation result, log.
# ARGV: expected version, catalog JSON ('' = unchanged), result JSON, result TTL, log entry, log length,
#       then pairs: account id, account JSON ('' = delete).
# Returns the new version, -1 if the version moved (retry), -2 if the operation id was applied already.
_COMPARE_AND_SET = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local done = redis.call('GET', KEYS[4])
if done and string.find(done, '"status":"applied"', 1, true) then return -2 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
for i = 7, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[3], ARGV[i])
  else
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  end
end
local version = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[4], ARGV[3], 'EX', tonumber(ARGV[4]))
redis.call('LPUSH', KEYS[5], ARGV[5])
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
return version
"""

# KEYS: version, catalog, accounts.  Returns {version, catalog, flat accounts hash}, read atomically.
_SNAPSHOT = """
return {redis.call('GET', KEYS[1]) or '0', redis.call('GET', KEYS[2]) or '', redis.call('HGETALL', KEYS[3])}
"""


@dataclass(frozen=True)
class OperationResult:
    """What became of one operation: ``applied`` (with the version it made) or ``refused`` (with the error)."""

    operation: str
    op: str
    status: str
    version: int | None
    at: str
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "operation": self.operation,
            "op": self.op,
            "status": self.status,
            "version": self.version,
            "at": self.at,
        }
        if self.error is not None:
            body["error"] = self.error
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> OperationResult:
        return cls(body["operation"], body["op"], body["status"], body.get("version"), body["at"], body.get("error"))


class ConfigStore:
    """The configuration of one deployment (``app``: ``RATER_APP_ID``) on a Redis client."""

    def __init__(self, client: Redis, app: str) -> None:
        self.client = client
        self.app = app
        self._cas = client.register_script(_COMPARE_AND_SET)
        self._read = client.register_script(_SNAPSHOT)
        self._cache: tuple[int, Config] | None = None

    def _keys(self) -> list[str]:
        return [config_key(self.app, "version"), config_key(self.app, "catalog"), config_key(self.app, "accounts")]

    async def version(self) -> int:
        """The version in force (0: none yet); one GET."""
        raw = await guarded(self.client.get(config_key(self.app, "version")))
        return int(raw or 0)

    async def snapshot(self) -> tuple[int, Config]:
        """The version and the compiled configuration in force, read in one atomic step (compiled once per
        version).  Raises ``LookupError`` when the store holds no configuration yet."""
        raw_version, raw_catalog, flat = await guarded(self._read(keys=self._keys()))
        version = int(raw_version)
        if version == 0 or not raw_catalog:
            raise LookupError(f"no configuration stored for {self.app!r}")
        if self._cache is not None and self._cache[0] == version:
            return self._cache
        accounts: dict[str, Account] = {}
        for index in range(0, len(flat), 2):
            account = Account.model_validate(orjson.loads(flat[index + 1]))
            accounts[account.id] = account
        config = compile_config(orjson.loads(raw_catalog), accounts)
        self._cache = (version, config)
        return self._cache

    async def current(self) -> tuple[int, Config]:
        """Like :meth:`snapshot`, but one GET when the version has not moved since the last read (for
        readers on every request, such as the API)."""
        if self._cache is not None and await self.version() == self._cache[0]:
            return self._cache
        return await self.snapshot()

    async def seed(self, folder: Path) -> bool:
        """Store the configuration of the ``RATER_CONFIG`` folder if the store has none; True if it did.
        Raises :class:`rater.issues.ValidationFailed` on bad files (only when they are needed)."""
        if await self.version() > 0:
            return False
        catalog = load_catalog(folder)
        subscriptions = load_subscriptions(folder, catalog)
        document = catalog_document(folder)
        compile_config(document, subscriptions.accounts)  # the stored form reads back (fails loud if not)
        at = _now()
        result = OperationResult(f"seed:{uuid.uuid4().hex}", "seed", "applied", 1, at)
        pairs = [part for account in subscriptions.accounts.values() for part in (account.id, _account(account))]
        written = await self._write(0, orjson.dumps(document).decode(), result, pairs)
        if written == 1:
            log.warning("configuration seeded from %s (version 1)", folder)
        return written == 1

    async def bootstrap(self, folder: Path) -> tuple[int, Config]:
        """The configuration in force, seeding it from ``folder`` on the deployment's first start."""
        await self.seed(folder)
        return await self.snapshot()

    async def result(self, operation: str) -> OperationResult | None:
        raw = await guarded(self.client.get(operation_key(self.app, operation)))
        return OperationResult.from_dict(orjson.loads(raw)) if raw else None

    async def submit(self, operation: Operation) -> OperationResult:
        """Apply ``operation`` (compare-and-set, retried against concurrent changes); an id applied before
        returns its stored result and changes nothing."""
        if operation.id is None:
            operation = operation.model_copy(update={"id": uuid.uuid4().hex})
        op_id = operation.id
        assert op_id is not None
        for _ in range(ATTEMPTS):
            stored = await self.result(op_id)
            if stored is not None and stored.status == "applied":
                return stored
            version, config = await self.snapshot()
            try:
                after = apply(operation, config)
            except ProvisioningError as error:
                refused = OperationResult(op_id, operation.op, "refused", None, _now(), error.to_dict())
                await self.store_refusal(refused)
                return refused
            result = OperationResult(op_id, operation.op, "applied", version + 1, _now())
            catalog = (
                orjson.dumps(after.catalog_document).decode()
                if after.catalog_document != config.catalog_document
                else ""
            )
            pairs: list[str] = []
            for account_id, account in after.accounts.items():
                if config.accounts.get(account_id) != account:
                    pairs += [account_id, _account(account)]
            pairs += [
                part for account_id in config.accounts if account_id not in after.accounts for part in (account_id, "")
            ]
            written = await self._write(version, catalog, result, pairs)
            if written == -2:
                applied = await self.result(op_id)
                assert applied is not None
                return applied
            if written > 0:
                self._cache = (written, after)
                return result
        raise RetriableError(f"operation {op_id!r}: the configuration kept changing, try again")

    async def _write(self, expected: int, catalog: str, result: OperationResult, pairs: list[str]) -> int:
        entry = orjson.dumps(
            {"operation": result.operation, "op": result.op, "version": result.version, "at": result.at}
        ).decode()
        args = [
            str(expected),
            catalog,
            orjson.dumps(result.to_dict()).decode(),
            str(RESULT_TTL),
            entry,
            str(LOG_LENGTH),
        ]
        keys = [*self._keys(), operation_key(self.app, result.operation), config_key(self.app, "log")]
        return int(await guarded(self._cas(keys=keys, args=[*args, *pairs])))

    async def store_refusal(self, result: OperationResult) -> None:
        """A refusal is kept for status queries, but never over an applied result of the same id (NX on a
        fresh id; a repeated refusal overwrites the earlier refusal)."""
        key = operation_key(self.app, result.operation)
        body = orjson.dumps(result.to_dict())
        current = await guarded(self.client.get(key))
        if current is None or b'"status":"applied"' not in current:
            await guarded(self.client.set(key, body, ex=RESULT_TTL))

    async def report(self, worker: str, version: int) -> None:
        """Record that ``worker`` rates with ``version`` now (``workers`` hash; shown by ``GET /v1/configuration``,
        so an operator sees a change reach every worker)."""
        body = orjson.dumps({"version": version, "at": _now()})
        await guarded(self.client.hset(config_key(self.app, "workers"), worker, body))

    async def workers(self) -> dict[str, Any]:
        raw = await guarded(self.client.hgetall(config_key(self.app, "workers")))
        return {_text(name): orjson.loads(value) for name, value in sorted(raw.items())}

    async def history(self, count: int = 100) -> list[dict[str, Any]]:
        raw = await guarded(self.client.lrange(config_key(self.app, "log"), 0, count - 1))
        return [orjson.loads(item) for item in raw]


class LiveRater:
    """The :class:`Rater` in force on a worker: one GET of the version per batch, a rebuild when it moved.

    A configuration that cannot be compiled (it was validated before it was stored, so only a software
    change can cause it) leaves the previous Rater in force and is logged, so a worker never stops on it."""

    def __init__(self, store: ConfigStore, version: int, rater: Rater) -> None:
        self.store = store
        self.version = version
        self.rater = rater
        self.unusable = 0
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.reported = 0

    async def current(self) -> Rater:
        version = await self.store.version()
        if self.reported != self.version:
            await self.store.report(self.worker, self.version)
            self.reported = self.version
        if version not in (self.version, self.unusable):
            try:
                self.version, config = await self.store.snapshot()
            except (ProvisioningError, LookupError, ValueError) as exc:
                self.unusable = version
                log.error("configuration version %s cannot be used, keeping version %s: %s", version, self.version, exc)
                return self.rater
            self.rater = Rater(config.catalog, config.subscriptions)
            log.info("configuration version %s in force", self.version)
            await self.store.report(self.worker, self.version)
            self.reported = self.version
        return self.rater


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _account(account: Account) -> str:
    return orjson.dumps(account_json(account)).decode()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
