"""``baraza survey check`` and ``baraza survey import``: survey files, without a configuration."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from surveys.errors import SurveyFileError
from surveys.loader import load_survey_file


def add_commands(commands: Any) -> None:
    """Register ``baraza survey ...`` on the top-level sub-parsers."""
    survey = commands.add_parser("survey", help="work with survey files")
    survey_commands = survey.add_subparsers(dest="survey_command", required=True)
    check = survey_commands.add_parser("check", help="check survey files; problems are printed as FILE:LINE: message")
    check.add_argument("files", nargs="+", type=Path)
    convert = survey_commands.add_parser("import", help="convert an ODK/KoBoToolbox XLSForm (.xlsx) into a survey file")
    convert.add_argument("form", type=Path)
    convert.add_argument("--output", type=Path, default=None, help="YAML file to write (default: standard output)")
    convert.add_argument(
        "--drop-unsupported", action="store_true", help="leave out questions a chat cannot ask (geopoint, photo, ...)"
    )


def run_offline(arguments: argparse.Namespace) -> int:
    """Run ``baraza survey ...`` (no settings needed: it reads only the files given); returns the exit status."""
    if arguments.survey_command == "import":
        from surveys.xlsform import import_command

        return import_command(arguments.form, arguments.output, arguments.drop_unsupported)
    return check(arguments.files)


def check(files: list[Path]) -> int:
    """Print each file's problems (FILE:LINE: message) or a one-line summary; 1 if any file fails."""
    failed = False
    for path in files:
        try:
            survey = load_survey_file(path)
        except SurveyFileError as error:
            failed = True
            for problem in error.problems:
                print(problem)
            continue
        print(
            f"{path}: ok: survey '{survey.id}', {len(survey.data_questions)} questions, languages {', '.join(survey.languages)}"
        )
    return 1 if failed else 0
