"""Documentation is tested: every setting and every command appears where users look."""

from __future__ import annotations

import argparse
import re

import pytest

from monitor.cli import build_parser
from monitor.settings import env_name, setting_names
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIG = (ROOT / "config" / "monitor.toml").read_text(encoding="utf-8")
CHOICES = (ROOT / "docs" / "choices.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "monitor"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _commands(sub, f"{prefix} {name}")


COMMANDS = dict(_commands(build_parser()))


@pytest.mark.parametrize("key", setting_names())
def test_every_setting_is_in_the_readme_table_and_the_config_file(key):
    assert re.search(rf"^\| `{key}` \| `{env_name(key)}` \|", README, re.M), key
    assert re.search(rf"^#? ?{key} = ", CONFIG, re.M), key


@pytest.mark.parametrize(
    "key",
    [
        k
        for k in setting_names()
        if k.endswith(
            (
                "_minutes",
                "_seconds",
                "_bytes",
                "_polls",
                "_concurrency",
                "workers",
                "_processes",
                "_days",
                "_gb",
                "_replicas",
                "_bulk_size",
            )
        )
    ],
)
def test_every_number_setting_has_its_reason_in_choices(key):
    assert f"`{key}`" in CHOICES, key


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_in_the_readme(command):
    if any(other.startswith(command + " ") for other in COMMANDS):
        return  # a group (`monitor feeds`): its subcommands are checked
    assert f"`{command}" in README, command


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_a_command_is_in_the_readme(command):
    parser = COMMANDS[command]
    for action in parser._actions:
        for option in action.option_strings:
            if option in ("-h", "--help"):
                continue
            assert option in README, f"{command} {option}"


def test_the_readme_test_command_is_what_ci_runs():
    assert "scripts/test" in README and "scripts/run" in README
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()
