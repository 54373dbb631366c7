"""The deployment files, read as data: docker-compose.yml, .env.example, Dockerfile,
.dockerignore and the CI workflow. No Docker engine runs here, so these check what can
be checked without one: the files parse, the services wait for each other, ports stay
on 127.0.0.1, every variable and every MONITOR_* name is defined, the daemon's role
holds the privileges it needs, its health check runs `monitor health` (the real parser),
and the versions agree with each other. The systemd unit: test_deploy_systemd.py."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from monitor.cli import build_parser
from monitor.commands.status import HEALTH_TIMEOUT_SECONDS
from monitor.settings import (
    ENV_CONFIG,
    ENV_NOT_SETTINGS,
    SECRET_FILE_KEYS,
    Settings,
    env_name,
    load_settings,
)

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
WORKFLOW = ROOT / ".github" / "workflows" / "elasticsearch.yml"

SERVICES = {"elasticsearch", "setup", "kibana", "monitor"}
# `${NAME}`, `${NAME:-default}`, `${NAME:?error}` or `$NAME`; `$$` is a literal `$` that
# compose leaves to the container's shell.
VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
ROLE_CLUSTER = {"monitor", "manage_index_templates", "manage_ilm"}
ROLE_INDICES = {"create_index", "create_doc", "write", "read", "view_index_metadata", "manage"}


# -- readers --------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    """KEY=VALUE lines of .env.example (comments and blank lines skipped)."""
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is not KEY=VALUE"
            values[key.strip()] = value.strip()
    return values


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def environment(service: dict) -> dict[str, str]:
    """A service's environment, from the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def interpolate(text: str, values: dict[str, str]) -> str:
    """Replace compose variables the way compose does with this .env."""

    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        rest = match.group(2) or ""
        if values.get(name):
            return values[name]
        return rest[2:] if rest.startswith(":-") else ""

    return VARIABLE.sub(one, text).replace("$$", "$")


def dockerfile_env() -> dict[str, str]:
    env = {}
    for word, args in dockerfile():
        if word != "ENV":
            continue
        tokens = shlex.split(args)
        if "=" not in tokens[0]:  # legacy form: ENV KEY value
            env[tokens[0]] = " ".join(tokens[1:])
            continue
        env.update(token.partition("=")[::2] for token in tokens)
    return env


def workflow_env_names(node) -> set[str]:
    """Every key of every `env:` mapping in the workflow (job, step, service)."""
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, dict):
                names |= set(value)
            names |= workflow_env_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= workflow_env_names(item)
    return names


def is_setting(name: str) -> bool:
    """A MONITOR_* name the daemon reads: a setting, a secret's _FILE variant, the
    config path, or a test/benchmark switch."""
    keys = [*Settings.model_fields, *SECRET_FILE_KEYS]
    return (
        name in {env_name(key) for key in keys}
        or name == ENV_CONFIG
        or name.startswith(ENV_NOT_SETTINGS)
    )


# -- docker-compose.yml ---------------------------------------------------------------


def test_compose_has_the_four_services():
    assert set(compose()["services"]) == SERVICES


def test_every_long_running_service_has_a_health_check():
    dockerfile_checks = [args for word, args in dockerfile() if word == "HEALTHCHECK"]
    for name, service in compose()["services"].items():
        if name == "setup":
            continue
        check = service.get("healthcheck")
        if check is None and service.get("build"):
            assert dockerfile_checks, f"{name} is built from the Dockerfile, which has none"
            continue
        assert check, f"service {name} has no healthcheck"
        assert not check.get("disable"), f"service {name} disables its healthcheck"
        assert check.get("test"), f"service {name}: healthcheck without a test"


def test_daemon_and_kibana_wait_for_elasticsearch_and_the_setup():
    services = compose()["services"]
    for name in ("monitor", "kibana"):
        depends = services[name]["depends_on"]
        assert depends["elasticsearch"]["condition"] == "service_healthy", name
        assert depends["setup"]["condition"] == "service_completed_successfully", name
    assert services["setup"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["setup"].get("restart", "no") == "no"


def published(service: dict) -> list[tuple[str, str]]:
    """(host address, container port) of each published port."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), str(port["target"])))
            continue
        parts = interpolate(str(port), env_example()).rsplit(":", 2)
        address = parts[0] if len(parts) == 3 else ""
        out.append((address, parts[-1]))
    return out


def test_ports_are_published_on_127_0_0_1_only():
    ports = {name: published(s) for name, s in compose()["services"].items()}
    for name, pairs in ports.items():
        for address, target in pairs:
            assert address == "127.0.0.1", f"{name} publishes {target} on {address or 'all'}"
    assert ("127.0.0.1", "9200") in ports["elasticsearch"]
    assert ("127.0.0.1", "5601") in ports["kibana"]
    assert not ports["monitor"] and not ports["setup"]


def test_every_compose_variable_is_defined_in_env_example():
    used = {
        m.group(1) or m.group(3) for m in VARIABLE.finditer(COMPOSE.read_text(encoding="utf-8"))
    }
    assert used, "the pattern found no variable at all"
    missing = sorted(used - set(env_example()))
    assert not missing, f"used in docker-compose.yml, not defined in .env.example: {missing}"


def test_env_example_holds_placeholders_not_passwords():
    passwords = {k: v for k, v in env_example().items() if "PASSWORD" in k}
    assert set(passwords) == {"ELASTIC_PASSWORD", "KIBANA_PASSWORD", "ES_MONITOR_PASSWORD"}
    for key, value in passwords.items():
        assert value.startswith("changeme-"), f"{key} in .env.example looks like a real one"
        assert len(value) >= 8, f"{key}: the setup service refuses fewer than 8 characters"


def test_every_monitor_variable_is_a_setting():
    names = set(dockerfile_env()) | workflow_env_names(workflow())
    for service in compose()["services"].values():
        names |= set(environment(service))
    monitor_names = {n for n in names if n.startswith("MONITOR_")}
    assert "MONITOR_ELASTICSEARCH_URL" in monitor_names
    unknown = sorted(n for n in monitor_names if not is_setting(n))
    assert not unknown, f"not settings of monitor.settings.Settings: {unknown}"


def test_the_container_settings_load(tmp_path):
    """Dockerfile ENV plus the compose environment, with .env.example's values, are
    settings the daemon accepts (values, not only names)."""
    env = {k: v for k, v in dockerfile_env().items() if k.startswith("MONITOR_")}
    monitor = environment(compose()["services"]["monitor"])
    env.update({k: interpolate(v, env_example()) for k, v in monitor.items()})
    env.pop(ENV_CONFIG)  # /app/config/monitor.toml is this repository's config/monitor.toml
    settings = load_settings(ROOT / "config" / "monitor.toml", environ=env)
    assert settings.elasticsearch_url == "http://elasticsearch:9200"
    assert settings.elasticsearch_username == "monitor"
    assert (
        settings.elasticsearch_password.get_secret_value() == env_example()["ES_MONITOR_PASSWORD"]
    )
    assert settings.elasticsearch_replicas == 0
    assert settings.kibana_url == "http://kibana:5601"
    assert settings.data_dir == Path("/data") and settings.models_dir == Path("/models")
    assert settings.log_format == "json"
    # the health check runs inside the container and asks 127.0.0.1: keep it there
    assert settings.http_host == "127.0.0.1" and settings.http_port


def test_daemon_kibana_and_setup_share_the_passwords():
    services = compose()["services"]
    setup = environment(services["setup"])
    assert "${ES_MONITOR_PASSWORD" in setup["WRITER_PASSWORD"]
    assert (
        "${ES_MONITOR_PASSWORD"
        in environment(services["monitor"])["MONITOR_ELASTICSEARCH_PASSWORD"]
    )
    kibana = environment(services["kibana"])
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert "${KIBANA_PASSWORD" in kibana["ELASTICSEARCH_PASSWORD"]
    assert "${KIBANA_PASSWORD" in setup["KIBANA_PASSWORD"]


def test_setup_gives_the_daemon_the_privileges_it_needs():
    setup = compose()["services"]["setup"]
    role = json.loads(environment(setup)["WRITER_ROLE"])
    assert set(role["cluster"]) >= ROLE_CLUSTER
    on_monitor = [entry for entry in role["indices"] if "monitor-*" in entry["names"]]
    assert on_monitor, "no privileges on monitor-*"
    assert set(on_monitor[0]["privileges"]) >= ROLE_INDICES
    assert {
        "application": "kibana-.kibana",
        "privileges": ["all"],
        "resources": ["*"],
    } in role["applications"]
    script = "\n".join(setup["command"])
    assert 'PUT /_security/role/monitor_writer "$$WRITER_ROLE"' in script
    assert re.search(
        r"PUT /_security/user/monitor \\\s+.*\"roles\": \[\"monitor_writer\"\]", script
    )
    assert "/_security/user/kibana_system/_password" in script


def test_elasticsearch_is_single_node_with_security_on():
    es = compose()["services"]["elasticsearch"]
    env = environment(es)
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert "${ELASTIC_PASSWORD" in env["ELASTIC_PASSWORD"]
    assert re.fullmatch(r"-Xms(\S+) -Xmx\1", env["ES_JAVA_OPTS"]), "heap min and max differ"
    assert any(v.endswith(":/usr/share/elasticsearch/data") for v in es["volumes"])


# -- Dockerfile -----------------------------------------------------------------------


def test_dockerfile_runs_as_a_fixed_user_that_is_not_root():
    steps = dockerfile()
    users = [args for word, args in steps if word == "USER"]
    assert users, "no USER: the daemon would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"USER {users[-1]}"
    created = " ".join(args for word, args in steps if word == "RUN")
    assert "--uid 10001" in created and user in ("10001", "monitor")


def seconds(duration: str) -> float:
    """A Docker duration (``30s``, ``3m``, ``1m30s``) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert parts and duration, f"not a duration: {duration!r}"
    h, m, s = (float(x or 0) for x in parts.groups())
    return h * 3600 + m * 60 + s


def dockerfile_health_check() -> tuple[dict[str, float], str]:
    """The last HEALTHCHECK: its options in seconds (retries as a count), its command."""
    checks = [args for word, args in dockerfile() if word == "HEALTHCHECK"]
    assert checks and checks[-1].strip().upper() != "NONE", "no HEALTHCHECK"
    options, sep, command = checks[-1].partition(" CMD ")
    assert sep, f"HEALTHCHECK without CMD: {checks[-1]}"
    numbers = {}
    for option in options.split():
        name, _, value = option.lstrip("-").partition("=")
        numbers[name.replace("-", "_")] = float(value) if name == "retries" else seconds(value)
    return numbers, command.strip()


def runs_monitor_health(shell: str) -> bool:
    """True when the shell command runs `monitor health` (checked with the real parser),
    mapping any failure to exit 1 (Docker reserves 2; `monitor` exits 2 on bad settings)."""
    words = shlex.split(shell)
    argv = words[: words.index("||")] if "||" in words else words
    assert argv[0] == "monitor", shell
    assert build_parser().parse_args(argv[1:]).command == "health", shell
    return shell.replace(" ", "").endswith("||exit1")


def test_dockerfile_health_check_asks_the_daemon():
    numbers, command = dockerfile_health_check()
    assert runs_monitor_health(command)
    # `monitor health` waits up to HEALTH_TIMEOUT_SECONDS for /healthz, then Python's start
    assert numbers["timeout"] >= HEALTH_TIMEOUT_SECONDS + 3
    assert numbers["interval"] >= numbers["timeout"]
    assert numbers["retries"] >= 2  # one slow answer does not make it unhealthy
    # the worst start: Elasticsearch silent for 4 tries of its timeout, then the stories
    assert numbers["start_period"] >= 4 * Settings().elasticsearch_timeout_seconds


def test_compose_health_check_is_the_dockerfiles():
    check = compose()["services"]["monitor"]["healthcheck"]
    assert check["test"][0] == "CMD-SHELL" and runs_monitor_health(check["test"][1])
    numbers, command = dockerfile_health_check()
    assert check["test"][1] == command
    assert {k: seconds(v) for k, v in check.items() if k not in ("test", "retries")} == {
        k: v for k, v in numbers.items() if k != "retries"
    }
    assert check["retries"] == numbers["retries"]


def pyproject_torch() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("torch==")]
    assert len(pins) == 1, "pyproject.toml pins torch once"
    return pins[0]


def test_dockerfile_installs_cpu_torch_before_the_package():
    runs = [args for word, args in dockerfile() if word == "RUN"]
    torch = [
        i
        for i, run in enumerate(runs)
        if "download.pytorch.org/whl/cpu" in run and pyproject_torch() in run.split()
    ]
    package = [i for i, run in enumerate(runs) if re.search(r"pip install (--\S+ )*\.(\s|$)", run)]
    assert torch, f"no RUN installs {pyproject_torch()} from the CPU index"
    assert package, "no RUN installs the package"
    assert torch[0] < package[0], "the package is installed before torch's CPU build"
    assert all("[test]" not in run for run in runs), "the image installs the test extras"


def test_dockerfile_container_defaults():
    steps = dockerfile()
    env = dockerfile_env()
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert env["MONITOR_DATA_DIR"] == "/data"
    assert env["MONITOR_MODELS_DIR"] == "/models"
    assert env["MONITOR_LOG_FORMAT"] == "json"
    assert ("VOLUME", "/data") in steps
    assert ("WORKDIR", "/app") in steps
    cmd = [args for word, args in steps if word == "CMD"]
    assert cmd and json.loads(cmd[-1]) == ["monitor", "run"]


# -- .dockerignore --------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    """Roughly Docker's rule: a pattern excludes a path or any folder above it (fnmatch's
    `*` also crosses `/`, so this errs on the side of excluding)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    out = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes):
            out = not negate
    return out


@pytest.mark.parametrize(
    "path, excluded",
    [
        ("monitor/data/seed-corpus/a.txt", False),
        ("monitor/__init__.py", False),
        ("config/monitor.toml", False),
        ("pyproject.toml", False),
        ("README.md", False),
        (".env", True),
        (".venv/bin/python", True),
        (".git/HEAD", True),
        ("data/state.sqlite3", True),
        ("bench/out/result.json", True),
        (".pytest_cache/v/x", True),
    ],
)
def test_dockerignore(path, excluded):
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert ignored(path, patterns) == excluded


# -- CI workflow ----------------------------------------------------------------------


def test_workflow_tests_against_the_stack_version():
    job = workflow()["jobs"]["test"]
    image = job["services"]["elasticsearch"]["image"]
    assert image.startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert image.rsplit(":", 1)[1] == env_example()["STACK_VERSION"]
    assert "--health-cmd" in job["services"]["elasticsearch"]["options"]


def test_workflow_runs_the_suite_with_elasticsearch():
    job = workflow()["jobs"]["test"]
    assert job["env"]["MONITOR_TEST_ES_URL"] == "http://localhost:9200"
    assert "9200:9200" in job["services"]["elasticsearch"]["ports"]
    python = [
        s["with"]["python-version"] for s in job["steps"] if "setup-python" in s.get("uses", "")
    ]
    assert python == ["3.11"]
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("bash scripts/test -q" in run for run in runs)
    assert any(pyproject_torch() in run and "whl/cpu" in run for run in runs)
    if "MONITOR_TEST_KIBANA_URL" in workflow_env_names(job):
        assert "kibana" in job["services"], "MONITOR_TEST_KIBANA_URL without a Kibana service"
