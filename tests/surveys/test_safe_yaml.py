"""Crafted YAML and data files are refused with FILE:LINE messages, through every reader."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_settings
from catalogue.errors import CatalogueError
from catalogue.metadata import load_metadata_file, load_metadata_text
from catalogue.sdmx_csv import MAX_HEADER_CHARS, read_sdmx_csv
from catalogue.sourcefiles import DefinitionFileError
from common.problems import ProblemLog
from common.safe_yaml import MAX_DEPTH, GuardedLoader, YamlLimitError, load_located, safe_load
from handlers.notices import NoticeFileError, load_notice_text
from surveys.errors import SurveyFileError
from surveys.loader import MAX_FILE_BYTES, load_survey_file, load_survey_text
from testkit import paths

ROOT = paths.ROOT


def billion_laughs(levels: int = 9) -> str:
    """The classic bomb: each level holds ten aliases of the one before (10**levels values)."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def deep_nesting(depth: int = 10_000) -> str:
    return "title: " + "[" * depth + "]" * depth + "\n"


RECURSIVE = "id: x\nloop: &loop [1, *loop]\n"
MANY_ALIASES = "base: &b x\nitems: [" + ", ".join(["*b"] * 5000) + "]\n"


def _survey(text: str) -> str:
    with pytest.raises(SurveyFileError) as caught:
        load_survey_text(text, "forms/evil.yaml")
    return str(caught.value)


def _metadata(text: str) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_metadata_text(text, "data/evil.yaml")
    return str(caught.value)


def _definition(text: str) -> str:
    with pytest.raises(DefinitionFileError) as caught:
        load_located(text, "concepts.yaml", DefinitionFileError)
    return str(caught.value)


def _notice(text: str) -> str:
    with pytest.raises(NoticeFileError) as caught:
        load_notice_text(text, "notices/evil.yaml", base_dir=Path("notices"))
    return str(caught.value)


READERS: dict[str, Callable[[str], str]] = {
    "survey": _survey,
    "metadata": _metadata,
    "concepts-calendar": _definition,
    "notice": _notice,
}
ATTACKS = {
    "billion-laughs": (billion_laughs(), "expand to more than"),
    "deep-nesting": (deep_nesting(), f"nested deeper than {MAX_DEPTH} levels"),
    "recursive-alias": (RECURSIVE, "refers to itself"),
    "many-aliases": (MANY_ALIASES, "more than 1000 aliases"),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_every_yaml_reader_refuses_bombs_and_deep_nesting_with_file_and_line(reader: str, attack: str) -> None:
    text, expected = ATTACKS[attack]
    message = READERS[reader](text)
    assert expected in message
    assert re.search(r"^[\w/.-]+\.yaml:\d+: ", message, re.MULTILINE), message


def test_the_problem_names_the_line_of_the_offending_alias() -> None:
    text = "id: x\ntitle: t\n" + MANY_ALIASES
    message = _survey(text)
    assert message.startswith("forms/evil.yaml:4: "), message


def test_the_configuration_refuses_a_yaml_bomb(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(billion_laughs())
    with pytest.raises(ConfigError, match=r"config\.yaml:\d+: .*expand to more than"):
        load_settings(config, environ={})


def test_the_configuration_names_a_character_yaml_cannot_read_as_a_problem(tmp_path: Path) -> None:
    # A reader error carries no mark: it is a FILE:1: problem, not a traceback.
    config = tmp_path / "config.yaml"
    config.write_text("web:\n  port: 8080\x07\n")
    with pytest.raises(ConfigError, match=r"config\.yaml:1: YAML syntax error: unacceptable character"):
        load_settings(config, environ={})


def test_every_reader_names_the_line_of_a_syntax_error() -> None:
    text = "id: x\ntitle: [unclosed\n"
    for reader in READERS.values():
        assert ".yaml:3: YAML syntax error: " in reader(text)


def test_a_few_reused_anchors_stay_allowed() -> None:
    assert safe_load("base: &b {unit: percent}\na: *b\nb: *b\n") == {
        "base": {"unit": "percent"},
        "a": {"unit": "percent"},
        "b": {"unit": "percent"},
    }
    metadata = load_metadata_file(ROOT / "office" / "indicators" / "metadata.yaml")  # uses &id001 / *id001
    assert metadata


def test_the_guard_is_a_safe_loader_and_refuses_python_objects() -> None:
    assert issubclass(GuardedLoader, yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError):
        safe_load("!!python/object/apply:os.system ['echo pwned']\n")


def test_the_bomb_check_costs_as_much_as_the_file_not_the_expansion() -> None:
    # 10**30 values once expanded: refused after looking at each of the 31 lines once.
    with pytest.raises(YamlLimitError, match="expand to more than"):
        safe_load(billion_laughs(30))


def test_nesting_just_under_the_limit_is_accepted() -> None:
    assert safe_load("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)) is not None


def test_a_huge_survey_file_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("id: huge\n# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(SurveyFileError, match=rf"huge\.yaml:1: the file is \d+ bytes; the limit is {MAX_FILE_BYTES}"):
        load_survey_file(path)


def test_a_data_file_of_one_endless_line_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "endless.csv"
    path.write_text("DATAFLOW," + "X," * (MAX_HEADER_CHARS * 2))
    log = ProblemLog()
    metadata = load_metadata_file(ROOT / "office" / "indicators" / "metadata.yaml")
    assert list(read_sdmx_csv(path, metadata, log)) == []
    assert [str(p) for p in log.problems] == [
        f"{path}:1: the line is longer than {MAX_HEADER_CHARS} characters: not an SDMX-CSV header"
    ]


def test_a_data_file_with_a_huge_field_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "field.csv"
    path.write_text("DATAFLOW,REF_AREA,TIME_PERIOD,OBS_VALUE\nX:Y(1.0),KE,2020," + "9" * 200_000 + "\n")
    log = ProblemLog()
    metadata = load_metadata_file(ROOT / "office" / "indicators" / "metadata.yaml")
    assert list(read_sdmx_csv(path, metadata, log)) == []
    assert log.problems and str(log.problems[0]).startswith(f"{path}:")
