"""The one FILE:LINE problem type, its error and log, and the YAML file readers that raise them."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.problems import MAX_PROBLEMS, FileProblem, FileProblemsError, ProblemLog
from common.safe_yaml import Located, compose_file, load_located, read_file


class OfficeFileError(FileProblemsError):
    """The error a reader raises for its own kind of file."""


def test_a_problem_names_its_file_and_line_or_the_whole_file() -> None:
    assert str(FileProblem("office/concepts.yaml", 12, "unknown key 'x'")) == "office/concepts.yaml:12: unknown key 'x'"
    assert str(FileProblem("data/*.csv", 0, "no file matches this source")) == "data/*.csv: no file matches this source"


def test_the_error_lists_every_problem_one_a_line_and_counts_those_left_out() -> None:
    error = OfficeFileError([FileProblem("a.yaml", 2, "one"), FileProblem("a.yaml", 5, "two")], more=3)
    assert str(error) == "a.yaml:2: one\na.yaml:5: two\n... and 3 more problem(s)"
    single = OfficeFileError.at(Path("b.yaml"), 1, "the file is empty")
    assert isinstance(single, OfficeFileError) and str(single) == "b.yaml:1: the file is empty"


def test_the_log_keeps_at_most_its_limit_and_raises_its_error_sorted_by_line_when_asked() -> None:
    log = ProblemLog(OfficeFileError)
    for line in range(MAX_PROBLEMS + 5, 0, -1):
        log.add("big.csv", line, "bad row")
    assert len(log.problems) == MAX_PROBLEMS and log.more == 5 and log.count == MAX_PROBLEMS + 5
    with pytest.raises(OfficeFileError) as raised:
        log.raise_if_any(by_line=True)
    assert [p.line for p in raised.value.problems] == sorted(p.line for p in log.problems)
    assert raised.value.more == 5
    unlimited = ProblemLog(OfficeFileError, limit=None)
    for line in range(MAX_PROBLEMS + 5):
        unlimited.add("notice.yaml", line + 1, "bad")
    assert len(unlimited.problems) == MAX_PROBLEMS + 5 and not unlimited.more
    ProblemLog().raise_if_any()  # nothing found: nothing raised


def test_file_readers_raise_the_callers_error_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("x: " + "y" * 100)
    with pytest.raises(OfficeFileError, match=r"big\.yaml:1: the file is \d+ bytes; the limit is 10$"):
        read_file(path, 10, OfficeFileError)
    with pytest.raises(OfficeFileError, match=r"^n\.yaml:3: YAML syntax error: "):
        compose_file("a: 1\nb: [\n", "n.yaml", OfficeFileError)
    with pytest.raises(OfficeFileError, match=r"^n\.yaml:1: the metadata file is empty$"):
        compose_file("", "n.yaml", OfficeFileError, empty="the metadata file is empty")
    with pytest.raises(OfficeFileError, match=r"^c\.yaml:1: the file must be a mapping of keys to values$"):
        load_located("- a\n- b\n", "c.yaml", OfficeFileError)


def test_located_mappings_know_the_line_of_each_value_and_their_repeated_keys() -> None:
    root = load_located("a: 1\nb:\n  c: 2\n  c: 3\n", "c.yaml", OfficeFileError)
    assert root.line_of("a") == 1 and root.line_of("b") == 3
    inner = root["b"]
    assert isinstance(inner, Located) and inner.line == 3 and inner.duplicates == [("c", 4)]
