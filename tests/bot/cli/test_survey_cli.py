"""``baraza survey preview`` (the real engine in the terminal, scripted answers) and ``baraza
survey import`` writing into the configured surveys folder by default."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from testkit.experiments import TRIAL_YAML
from testkit.paths import XLSFORMS

FORM = """\
id: wording
title: "**Wording** check"
questions:
  - {type: text, name: first_name, label: "What is your **first name**?"}
  - type: select_multiple
    name: langs
    label: "Which languages does ${first_name} speak?<br>_Tick all that apply_"
    choices: [{name: sw, label: Swahili}, {name: en, label: English}, {name: fr, label: French}]
  - type: integer
    name: age
    label: "# Age\\nHow old is ${first_name}?"
    constraint: ". < 120"
    constraint_message: "**${first_name}** cannot be that old"
  - {type: note, name: bye, label: "Thank you, ${first_name} (${langs})."}
"""

TRANSCRIPT = """\
Wording check

You can stop at any time with /cancel; the answers you gave are kept.

1/3 · What is your first name?

> Ali
2/3 · Which languages does Ali speak?
Tick all that apply
[◻️ Swahili]
[◻️ English]
[◻️ French]
[Done ✔]

> swahili
2/3 · Which languages does Ali speak?
Tick all that apply
[✅ Swahili]
[◻️ English]
[◻️ French]
[Done ✔]

> French
2/3 · Which languages does Ali speak?
Tick all that apply
[✅ Swahili]
[◻️ English]
[✅ French]
[Done ✔]

> Done
Which languages does Ali speak?
Tick all that apply
→ Swahili, French

3/3 · Age
How old is Ali?

> 150
Ali cannot be that old

3/3 · Age
How old is Ali?

> /back
2/3 · Which languages does Ali speak?
Tick all that apply
(Your answer: Swahili, French)
[✅ Swahili]
[◻️ English]
[✅ French]
[Done ✔]

"""


@pytest.fixture
def form(tmp_path: Path) -> Path:
    path = tmp_path / "wording.yaml"
    path.write_text(FORM, encoding="utf-8")
    return path


def test_preview_shows_the_conversation_a_respondent_sees(
    form: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "answers.txt"
    script.write_text("Ali\nswahili\nFrench\nDone\n150\n/back\n", encoding="utf-8")
    assert main(["survey", "preview", str(form), "--script", str(script)]) == 1  # the answers end before the survey
    out = capsys.readouterr().out
    assert out == TRANSCRIPT, out
    assert "${" not in out and "**" not in out and "<br>" not in out


def test_preview_to_the_end_exits_0(
    form: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Ali\nEnglish\nDone\n30\n"))
    assert main(["survey", "preview", str(form)]) == 0
    out = capsys.readouterr().out
    assert "Thank you, Ali (English)." in out
    assert out.rstrip().endswith("Send /start to see other surveys.")


def test_preview_of_an_xlsform_and_of_a_broken_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("12\n"))
    assert main(["survey", "preview", str(XLSFORMS / "household_listing.xlsx")]) == 1
    out = capsys.readouterr().out
    assert "1/10 · Enumeration area code" in out
    assert "> 12\nThe code has exactly four digits." in out
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "id: broken\ntitle: Broken\nquestions:\n  - {type: integer, name: a, label: A, constraint: '. >'}\n"
    )
    assert main(["survey", "preview", str(broken)]) == 1
    assert f"{broken}:4:" in capsys.readouterr().err


def test_import_writes_into_the_configured_surveys_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "surveys"
    folder.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"surveys: {{directory: {folder}}}\n", encoding="utf-8")
    assert main(["--config", str(config), "survey", "import", str(XLSFORMS / "stat_literacy_quiz.xlsx")]) == 0
    written = folder / "stat_literacy_quiz.yaml"
    assert yaml.safe_load(written.read_text(encoding="utf-8"))["kind"] == "quiz"
    assert f"converted to {written}" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["stat_literacy_quiz.yaml"], "no partial file is left behind"
    # --output still works, and - is standard output
    assert (
        main(["--config", str(config), "survey", "import", str(XLSFORMS / "stat_literacy_quiz.xlsx"), "--output", "-"])
        == 0
    )
    assert yaml.safe_load(capsys.readouterr().out)["kind"] == "quiz"
    other = tmp_path / "other.yaml"
    assert main(["survey", "import", str(XLSFORMS / "stat_literacy_quiz.xlsx"), "--output", str(other)]) == 0
    assert other.is_file()


def test_import_without_a_surveys_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"surveys: {{directory: {tmp_path / 'missing'}}}\n", encoding="utf-8")
    assert main(["--config", str(config), "survey", "import", str(XLSFORMS / "stat_literacy_quiz.xlsx")]) == 1
    assert "the surveys folder does not exist" in capsys.readouterr().err


# The shared trial survey with two mistakes: an arm words a question that does not exist, and a
# question of the shuffled group reads another of its items.
RANDOMISED = TRIAL_YAML.replace('        income: "What', '        incomes: "What').replace(
    "min: 1, max: 5}\n      - {type: integer, name: roads",
    'min: 1, max: 5, relevant: "${water} > 2"}\n      - {type: integer, name: roads',
)


def test_check_reports_a_bad_experiment_and_a_shuffled_group_at_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "trial.yaml"
    path.write_text(RANDOMISED, encoding="utf-8")
    assert main(["--config", str(tmp_path / "missing.yaml"), "survey", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:10: arm 'b': 'incomes' is not a question the survey shows" in out
    assert f"{path}:18: 'power' reads ${{water}}, but group 'services' is shuffled (randomize)" in out
