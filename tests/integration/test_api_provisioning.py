"""Provisioning and rating exceptions over HTTP, against a real aiohttp server and a real valkey-server.

Every integrity rule of the seed pages is refused with a 4xx JSON error and changes nothing: the version and
both documents read back through ``GET /v1/configuration`` are identical before and after."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from rater.catalog import Catalog
from rater.subscriptions import Subscriptions
from streams.api.app import build_api
from streams.api.auth import Tokens
from streams.api.context import ApiContext
from streams.api.exceptions import EXCEPTION_INDEX, USAGE_SENDER
from streams.api.exceptions_index import ExceptionIndex
from streams.api.provisioning import CONFIG_STORE
from streams.configuration.store import ConfigStore
from streams.settings import Settings
from tests.integration._api import YEARS
from tests.integration.test_config_store import REFUSALS
from tests.unit.provisioning_builders import ACCOUNTS, CATALOG

pytestmark = pytest.mark.integration

Client = TestClient[web.Request, web.Application]
OPERATOR = {"Authorization": "Bearer op-secret"}
TEAM = {"Authorization": "Bearer team-token"}


class Api:
    def __init__(self, client: Client, sent: list[tuple[bytes | None, bytes]], index: ExceptionIndex) -> None:
        self.client = client
        self.sent = sent
        self.index = index

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        response = await self.client.request(method, path, json=body, headers=OPERATOR if headers is None else headers)
        return response.status, await response.json()


@pytest.fixture
async def api(redis_client: Redis, redis_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "subscriptions.yaml").write_text(ACCOUNTS)
    store = ConfigStore(redis_client, "app")
    await store.bootstrap(tmp_path)

    async def config() -> tuple[Catalog, Subscriptions]:
        _, current = await store.current()
        return current.catalog, current.subscriptions

    sent: list[tuple[bytes | None, bytes]] = []

    async def send(key: bytes | None, value: bytes) -> None:
        sent.append((key, value))

    index = ExceptionIndex(redis_client, "app", retention=YEARS)  # T0 is in March 2026
    ctx = ApiContext(
        Settings("127.0.0.1:1", redis_url, app_id="app"),
        redis_client,
        Tokens.parse("op-secret", "team-token=TEAM"),
        config,
    )
    ctx.extras.update({CONFIG_STORE: store, EXCEPTION_INDEX: index, USAGE_SENDER: send})
    client = TestClient(TestServer(build_api(ctx)))
    await client.start_server()
    yield Api(client, sent, index)
    await client.close()


async def test_an_operation_applies_and_is_idempotent(api: Api) -> None:
    body = {
        "id": "uid-1",
        "op": "add_usage_identifier",
        "account_service": "TEAM-PHONE1",
        "usage_identifier": {"uid": "+15550077", "start": "2026-03-01"},
    }
    status, result = await api.call("POST", "/v1/operations", body)
    assert (status, result["status"], result["version"]) == (200, "applied", 2)
    status, again = await api.call("POST", "/v1/operations", body)
    assert (status, again["version"]) == (200, 2)
    status, stored = await api.call("GET", "/v1/operations/uid-1")
    assert stored == result
    status, config = await api.call("GET", "/v1/configuration?history=5")
    assert config["version"] == 2
    assert next(entry["operation"] for entry in config["history"]) == "uid-1"
    team = next(a for a in config["accounts"] if a["id"] == "TEAM")
    uids = [u["uid"] for u in team["packages"][0]["services"][3]["usage_identifiers"]]
    assert uids == ["+15550001", "+15550077"]


@pytest.mark.parametrize(("body", "code"), REFUSALS)
async def test_each_refusal_is_a_json_error_that_changes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    _, before = await api.call("GET", "/v1/configuration")
    status, error = await api.call("POST", "/v1/operations", {**body, "id": "refused-1"})
    assert 400 <= status < 500
    assert error["error"]["code"] == code
    _, after = await api.call("GET", "/v1/configuration")
    assert after == before
    _, stored = await api.call("GET", "/v1/operations/refused-1")
    assert stored["status"] == "refused"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "invalid_operation"),
        (
            b'{"op": "cancel_account_service", "account_service": "TEAM-PHONE1", "cancel": "2026-02-30"}',
            400,
            "invalid_operation",
        ),
        (b'{"op": "nope"}', 400, "invalid_operation"),
        (b"[]", 400, "invalid_operation"),
    ],
)
async def test_bad_requests(api: Api, raw: bytes, status: int, code: str) -> None:
    _, before = await api.call("GET", "/v1/configuration")
    response = await api.client.post("/v1/operations", data=raw, headers=OPERATOR)
    assert response.status == status
    assert (await response.json())["error"]["code"] == code
    _, after = await api.call("GET", "/v1/configuration")
    assert after == before


async def test_only_the_operator_provisions(api: Api) -> None:
    body = {"op": "update_account", "account": "TEAM", "set": {"name": "x"}}
    assert (await api.call("POST", "/v1/operations", body, TEAM))[0] == 403
    assert (await api.call("POST", "/v1/operations", body, {}))[0] == 401
    assert (await api.call("GET", "/v1/configuration", None, TEAM))[0] == 403


def exception(record_id: str, kind: str, account: str | None, uid: str = "+15550001") -> dict[str, Any]:
    original = (
        f'{{"record_id":"{record_id}","usage_identifier":"{uid}","usage_class":"SMS","quantity":1,'
        '"event_time":"2026-03-02T10:00:00Z"}'
    )
    return {
        "schema": "rating-exception/1",
        "record_id": record_id,
        "type": kind,
        "message": "m",
        "account": account,
        "original": original,
        "original_encoding": "utf-8",
    }


T0 = 1_772_409_600_000  # 2026-03-02T00:00:00Z


async def test_exceptions_are_listed_by_type_account_and_time(api: Api) -> None:
    await api.index.record(exception("r1", "rate_not_found", "TEAM"), T0)
    await api.index.record(exception("r2", "no_usage_identifier_match", None, "+19990000"), T0 + 1000)
    await api.index.record(exception("r3", "rate_not_found", "OTHER"), T0 + 2000)
    assert not await api.index.record(exception("r1", "rate_not_found", "TEAM"), T0)  # a copy read again

    async def ids(query: str, headers: dict[str, str] | None = None) -> list[str]:
        status, body = await api.call("GET", f"/v1/exceptions{query}", None, headers)
        assert status == 200, body
        return [entry["record_id"] for entry in body["exceptions"]]

    assert await ids("") == ["r1", "r2", "r3"]
    assert await ids("?type=rate_not_found") == ["r1", "r3"]
    assert await ids("?account=TEAM") == ["r1"]
    assert await ids("?since=2026-03-02T00:00:01Z") == ["r2", "r3"]
    assert await ids("?since=2026-03-02T00:00:00Z&until=2026-03-02T00:00:02Z") == ["r1", "r2"]
    assert await ids("?type=rate_not_found&account=OTHER") == ["r3"]
    assert await ids("?account=TEAM", TEAM) == ["r1"]
    _, page = await api.call("GET", "/v1/exceptions?limit=2")
    assert [e["record_id"] for e in page["exceptions"]] == ["r1", "r2"]
    _status, rest = await api.call("GET", f"/v1/exceptions?limit=2&cursor={page['next_cursor']}")
    assert [e["record_id"] for e in rest["exceptions"]] == ["r3"]
    assert rest["next_cursor"] is None
    assert (await api.call("GET", "/v1/exceptions?account=OTHER", None, TEAM))[0] == 403
    assert (await api.call("GET", "/v1/exceptions?type=oops"))[0] == 400
    assert (await api.call("GET", "/v1/exceptions?since=yesterday"))[0] == 400


async def test_reprocess_sends_once_then_reopens_on_a_new_failure(api: Api) -> None:
    """R31: the original bytes go back keyed by the usage identifier; a second request skips it; a new
    exception for the record after it was sent reopens it with one more attempt.  A rate_not_found whose
    record drew (``drew``: it failed while its tiers were priced) older than the stored draws
    (RATER_RESULT_TTL, a week by default) is not sent: it would draw twice."""
    now = int(time.time() * 1000) - 60_000
    await api.index.record(exception("r1", "rate_not_found", "TEAM"), now)
    await api.index.record(exception("r2", "no_usage_identifier_match", None), now + 1)
    await api.index.record({**exception("r0", "rate_not_found", "TEAM"), "drew": True}, T0)
    status, report = await api.call("POST", "/v1/exceptions/reprocess", {"type": "rate_not_found"})
    assert status == 200
    assert report["reprocessed"] == ["r1"]
    assert [(s["record_id"], "expired" in s["reason"]) for s in report["skipped"]] == [("r0", True)]
    assert api.sent == [(b"+15550001", exception("r1", "rate_not_found", "TEAM")["original"].encode())]
    status, report = await api.call("POST", "/v1/exceptions/reprocess", {"ids": ["r1", "nope"]})
    assert report["reprocessed"] == []
    assert [s["record_id"] for s in report["skipped"]] == ["r1", "nope"]
    assert len(api.sent) == 1
    _, listed = await api.call("GET", "/v1/exceptions?status=reprocessed")
    assert [(e["record_id"], e["reprocess_count"]) for e in listed["exceptions"]] == [("r1", 1)]
    # the copy of the first event changes nothing; a failure after the reprocess reopens it
    assert not await api.index.record(exception("r1", "rate_not_found", "TEAM"), T0)
    entry = await api.index.get("r1")
    assert entry is not None
    later = int(entry["reprocessed_at"]) + 1
    assert await api.index.record(exception("r1", "rate_group_not_found", "TEAM"), later)
    _, listed = await api.call("GET", "/v1/exceptions?status=open")
    assert [(e["record_id"], e["type"], e["attempts"]) for e in listed["exceptions"]] == [
        ("r0", "rate_not_found", 1),
        ("r2", "no_usage_identifier_match", 1),
        ("r1", "rate_group_not_found", 2),
    ]
    status, report = await api.call("POST", "/v1/exceptions/reprocess", {"ids": ["r1"], "force": True})
    assert report["reprocessed"] == ["r1"]
    assert (await api.call("POST", "/v1/exceptions/reprocess", {}))[0] == 400
    assert (await api.call("POST", "/v1/exceptions/reprocess", {"ids": ["r1"]}, TEAM))[0] == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/configuration?history=%C2%B2", None),  # '²' passed str.isdigit and int() refused it: a 500
        ("GET", "/v1/configuration?history=1001", None),
        ("GET", "/v1/configuration?histroy=5", None),  # a misspelt parameter was ignored
        ("GET", "/v1/operations/x?verbose=1", None),
        ("GET", "/v1/exceptions?cursor=99999999999999999999", None),  # past Redis' offsets: a 500
        ("GET", "/v1/exceptions?limit=0", None),  # was silently raised to 1
        ("GET", "/v1/exceptions?limit=", None),
        ("GET", "/v1/exceptions?type=", None),
        ("GET", "/v1/exceptions?acount=TEAM", None),
        ("GET", "/v1/exceptions?limit=1&limit=2", None),
        ("POST", "/v1/exceptions/reprocess", {"type": "rate_not_found", "account": 5}),  # passed as account '5'
        ("POST", "/v1/exceptions/reprocess", {"status": None}),
        ("POST", "/v1/exceptions/reprocess", {"ids": 0, "type": "rate_not_found"}),  # a falsy non-list passed
    ],
)
async def test_malformed_requests_are_400_json_errors(api: Api, method: str, path: str, body: Any) -> None:
    status, error = await api.call(method, path, body)
    assert (status, error["error"]["code"]) == (400, "bad_request"), error


async def test_history_zero_lists_no_operation(api: Api) -> None:
    status, config = await api.call("GET", "/v1/configuration?history=0")  # was the whole log (LRANGE 0 -1)
    assert (status, config["history"]) == (200, [])


# --- bounded fields, safe zone lookup, body size, operation ids (issue finding 7) --------------------------


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        # 300 characters: the zone database was asked for a file of that name (OSError, a 500 before)
        ({"time_zone": "x" * 300}, 400, "invalid_operation", "set.time_zone"),
        ({"time_zone": "Europe/../../etc/passwd"}, 400, "invalid_operation", "set.time_zone"),
        # a folder of the zone database has the shape of a name but is no zone (IsADirectoryError before)
        ({"time_zone": "America"}, 422, "invalid_configuration", "time_zone"),
        ({"time_zone": "Mars/Olympus_Mons"}, 422, "invalid_configuration", "time_zone"),
        ({"name": "n" * 201}, 400, "invalid_operation", "set.name"),
    ],
)
async def test_a_bad_name_or_time_zone_is_a_typed_refusal_that_changes_nothing(
    api: Api, changes: dict[str, Any], status: int, code: str, field: str
) -> None:
    """docs/subscriptions.md bounds: a time zone is an IANA name of at most 64 characters that the zone
    database knows; a name at most 200 characters.  Each bad value is a 4xx naming the field, never a 500,
    and the configuration (version 1) is unchanged."""
    _, before = await api.call("GET", "/v1/configuration")
    body = {"id": "tz-1", "op": "update_account", "account": "TEAM", "set": changes}
    status_got, error = await api.call("POST", "/v1/operations", body)
    assert (status_got, error["error"]["code"]) == (status, code)
    assert any(f"field {field}:" in issue for issue in error["error"]["details"]["issues"]), error
    _, after = await api.call("GET", "/v1/configuration")
    assert (after["version"], after) == (1, before)


async def test_a_name_of_200_characters_and_a_known_zone_apply(api: Api) -> None:
    """The bounds are inclusive: 200 characters and ``America/Argentina/ComodRivadavia`` (32, the longest
    IANA name) apply and make version 2."""
    body = {
        "id": "tz-ok",
        "op": "update_account",
        "account": "TEAM",
        "set": {"name": "n" * 200, "time_zone": "America/Argentina/ComodRivadavia"},
    }
    status, result = await api.call("POST", "/v1/operations", body)
    assert (status, result["status"], result["version"]) == (200, "applied", 2)
    _, config = await api.call("GET", "/v1/configuration")
    team = next(a for a in config["accounts"] if a["id"] == "TEAM")
    assert (len(team["name"]), team["time_zone"]) == (200, "America/Argentina/ComodRivadavia")


async def test_a_body_over_1_mib_is_413_with_the_json_error_shape(api: Api) -> None:
    """MAX_BODY = 1 MiB = 1,048,576 bytes: one byte more is ``413 payload_too_large`` (it was a 500), on
    both routes that take a body; the configuration is unchanged.  Exactly 1 MiB is read (and, not being
    JSON, refused as a 400)."""
    _, before = await api.call("GET", "/v1/configuration")
    for path in ("/v1/operations", "/v1/exceptions/reprocess"):
        response = await api.client.post(path, data=io.BytesIO(b" " * (1024 * 1024 + 1)), headers=OPERATOR)
        assert response.status == 413
        assert await response.json() == {
            "error": {
                "code": "payload_too_large",
                "message": "the request body is larger than 1048576 bytes (1 MiB)",
                "details": {"max_bytes": 1048576},
            }
        }
    response = await api.client.post("/v1/operations", data=io.BytesIO(b" " * (1024 * 1024)), headers=OPERATOR)
    assert (response.status, (await response.json())["error"]["code"]) == (400, "invalid_operation")
    _, after = await api.call("GET", "/v1/configuration")
    assert after == before


@pytest.mark.parametrize("bad_id", ["op{1}", "a/b", "a b", "-leading-dash", "é", "x" * 201])
async def test_an_operation_id_outside_the_allowed_characters_is_refused_up_front(api: Api, bad_id: str) -> None:
    """Operation ids are 1-200 of ``A-Z a-z 0-9 _ . : -``, starting with a letter or digit, so that every
    applied id can be read back at ``GET /v1/operations/{id}`` as it is (an id with braces was applied, then
    404).  Any other id is a 400 ``invalid_operation`` naming ``id``, and nothing is applied."""
    body = {"id": bad_id, "op": "update_account", "account": "TEAM", "set": {"name": "x"}}
    status, error = await api.call("POST", "/v1/operations", body)
    assert (status, error["error"]["code"]) == (400, "invalid_operation")
    assert any("field id:" in issue for issue in error["error"]["details"]["issues"]), error
    _, config = await api.call("GET", "/v1/configuration")
    assert config["version"] == 1


async def test_every_allowed_operation_id_reads_back(api: Api) -> None:
    """An id using every allowed kind of character, 200 long, applies (version 2) and reads back at
    ``GET /v1/operations/{id}`` unquoted."""
    op_id = "Ab9_.:-" + "z" * 193
    body = {"id": op_id, "op": "update_account", "account": "TEAM", "set": {"name": "x"}}
    status, result = await api.call("POST", "/v1/operations", body)
    assert (status, result["version"]) == (200, 2)
    status, stored = await api.call("GET", f"/v1/operations/{op_id}")
    assert (status, stored) == (200, result)
