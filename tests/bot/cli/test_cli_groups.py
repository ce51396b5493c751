"""``baraza``: one module per command group, registered by bot/cli/main.py."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

import pytest

from bot.cli import main as cli


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return list(sub.choices)


def test_every_command_comes_from_its_own_group_module_in_the_order_of_help() -> None:
    assert _commands(cli.parser()) == [
        "run", "export", "contacts", "survey", "broadcast", "calendar", "concepts", "requests", "indicators",
        "staff", "audit", "keys", "db", "report",
    ]  # fmt: skip
    for name, group in cli.GROUPS.items():
        assert inspect.ismodule(group) and group.__name__ == f"bot.cli.{name}", name


@pytest.mark.parametrize("name", sorted(cli.GROUPS))
def test_a_group_module_registers_exactly_its_own_command(name: str) -> None:
    commands = argparse.ArgumentParser().add_subparsers()
    cli.GROUPS[name].add_commands(commands)
    assert list(commands.choices) == [name]


def test_survey_check_runs_without_a_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nquestions: [\n", encoding="utf-8")
    assert cli.main(["--config", str(tmp_path / "missing.yaml"), "survey", "check", str(broken)]) == 1
    assert str(broken) in capsys.readouterr().out
