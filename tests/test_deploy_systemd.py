"""The systemd example (deploy/systemd), read as data: the unit parses; ExecStart and its
readiness wait run real `monitor` commands with real options (the real parser); every
MONITOR_* the unit or its environment file sets, commented examples included, is a
setting and loads, the Elasticsearch password from its file; the stop timeout covers the
largest shutdown grace; the data folder is the one writable place. Where systemd-analyze
is installed, systemd itself checks the unit."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import EXIT_CONFIG, build_parser
from monitor.settings import ENV_CONFIG, Settings, load_settings
from tests.test_deploy import ROOT, dockerfile_health_check, is_setting

UNIT = ROOT / "deploy" / "systemd" / "monitor.service"
ENV_FILE = ROOT / "deploy" / "systemd" / "monitor.env"
VENV = "/opt/monitor/.venv"
# `#Key=value` with no space: a directive or variable commented out for the user to enable
COMMENTED = re.compile(r"^#([A-Z][A-Za-z]+|MONITOR_[A-Z0-9_]+)=(.*)$")


def unit(commented: bool = False) -> dict[str, list[tuple[str, str]]]:
    """Section -> (key, value) in order, repeated keys kept; with ``commented``, the
    commented-out directives too."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        match = COMMENTED.match(line)
        if match and commented:
            current.append(match.groups())
            continue
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{UNIT.name}: not `Key=value`: {raw!r}"
        assert not value.endswith("\\"), "continuation lines: this reader does not join them"
        current.append((key.strip(), value.strip()))
    return sections


def one(section: str, key: str) -> str:
    values = [v for k, v in unit()[section] if k == key]
    assert len(values) == 1, f"[{section}] {key}= is set {len(values)} times"
    return values[0]


def systemd_seconds(value: str) -> float:
    """``30``, ``30s``, ``3min``, ``1min 30s`` in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit_name in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit_name]
    return total


def environment(commented: bool) -> dict[str, str]:
    """The service's environment: Environment= of the unit, then its EnvironmentFile."""
    env = {}
    for key, value in unit(commented)["Service"]:
        if key == "Environment":
            env.update(item.partition("=")[::2] for item in shlex.split(value))
    assert one("Service", "EnvironmentFile") == f"/etc/monitor/{ENV_FILE.name}"
    for raw in ENV_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        match = COMMENTED.match(line)
        if match and commented:
            env[match.group(1)] = match.group(2)
        elif line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key.startswith("MONITOR_"), f"{ENV_FILE.name}: {raw!r}"
            assert " " not in value and "$" not in value, "a shell could not source it"
            env[key] = value
    return env


def test_the_unit_parses_and_runs_as_its_own_user():
    sections = unit()
    assert set(sections) == {"Unit", "Service", "Install"}
    assert one("Service", "Type") in ("exec", "simple")
    assert one("Service", "User") == one("Service", "Group") == "monitor"
    assert one("Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in one("Unit", "After").split()
    assert "network-online.target" in one("Unit", "Wants").split()


def test_execstart_is_monitor_run_with_json_logs():
    argv = shlex.split(one("Service", "ExecStart"))
    assert argv[0] == f"{VENV}/bin/monitor"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run" and args.log_format == "json"


def test_readiness_waits_for_monitor_health():
    argv = shlex.split(one("Service", "ExecStartPost"))
    assert argv[:2] == ["/bin/sh", "-c"]
    script = argv[2]
    calls = re.findall(rf"{re.escape(VENV)}/bin/monitor ([a-z -]+?)(?:;|$|\s*>|\s*\|)", script)
    assert calls, script
    for call in calls:
        assert build_parser().parse_args(call.split()).command == "health"
    assert script.startswith("until ") and "sleep" in script  # it retries, it does not spin
    # the wait ends at TimeoutStartSec, which must let the slowest start finish
    start_period = dockerfile_health_check()[0]["start_period"]
    assert systemd_seconds(one("Service", "TimeoutStartSec")) >= start_period


def test_restarts_on_failure_but_not_on_bad_settings():
    assert one("Service", "Restart") == "on-failure"
    assert str(EXIT_CONFIG) in one("Service", "RestartPreventExitStatus").split()
    restart = systemd_seconds(one("Service", "RestartSec"))
    interval = systemd_seconds(one("Unit", "StartLimitIntervalSec"))
    burst = int(one("Unit", "StartLimitBurst"))
    assert restart >= 1
    # the start limit can trigger: `burst` restarts fit within the interval
    assert burst * restart < interval


def test_the_stop_timeout_covers_the_largest_shutdown_grace():
    field = Settings.model_fields["shutdown_grace_seconds"]
    largest = next(m.le for m in field.metadata if hasattr(m, "le"))
    assert largest >= field.default
    assert one("Service", "KillSignal") == "SIGTERM"
    assert one("Service", "KillMode") == "mixed"  # SIGTERM to the daemon alone
    assert systemd_seconds(one("Service", "TimeoutStopSec")) > largest + 5


def test_the_data_folder_is_the_only_writable_place():
    env = environment(commented=False)
    state = f"/var/lib/{one('Service', 'StateDirectory')}"
    assert env["MONITOR_DATA_DIR"] == state == one("Service", "WorkingDirectory")
    assert one("Service", "ProtectSystem") == "strict"
    assert not [k for k, _ in unit()["Service"] if k == "ReadWritePaths"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert one("Service", key) == "yes", key
    assert one("Service", "CapabilityBoundingSet") == ""
    assert re.fullmatch(r"\d+[KMG]", one("Service", "MemoryMax"))


def test_every_monitor_variable_is_a_setting():
    names = {n for n in environment(commented=True) if n.startswith("MONITOR_")}
    assert {"MONITOR_CONFIG", "MONITOR_DATA_DIR", "MONITOR_ELASTICSEARCH_PASSWORD_FILE"} <= names
    assert not [n for n in names if n.endswith("_PASSWORD")]  # a file, not the environment
    unknown = sorted(n for n in names if not is_setting(n))
    assert not unknown, f"not settings of monitor.settings.Settings: {unknown}"


@pytest.mark.parametrize("commented", [False, True], ids=["as shipped", "all enabled"])
def test_the_unit_environment_loads(tmp_path, commented):
    """The settings the service gets load; with the commented lines enabled too, the
    Elasticsearch password comes from its file through the `_file` setting."""
    env = environment(commented)
    secret = "s3cret-from-a-file"
    if commented:
        name = Path(env["MONITOR_ELASTICSEARCH_PASSWORD_FILE"]).name
        env["MONITOR_ELASTICSEARCH_PASSWORD_FILE"] = str(tmp_path / name)
        (tmp_path / name).write_text(secret + "\n")
    assert env.pop(ENV_CONFIG) == "/etc/monitor/monitor.toml"  # this repository's config/
    settings = load_settings(ROOT / "config" / "monitor.toml", environ=env)
    assert settings.data_dir == Path("/var/lib/monitor")
    assert settings.http_host == "127.0.0.1" and settings.http_port
    if commented:
        assert settings.elasticsearch_url.startswith("https://")
        assert settings.elasticsearch_password.get_secret_value() == secret
    else:
        assert not settings.elasticsearch_url  # the embedded store until it is configured


def test_systemd_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart's program exists: point it at this venv's `monitor`
    venv = Path(sys.prefix)
    assert (venv / "bin" / "monitor").exists()
    copy = tmp_path / "monitor.service"
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(VENV, str(venv)))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in proc.stderr.splitlines() if "monitor.service" in line]
    assert proc.returncode == 0 and not problems, proc.stderr
