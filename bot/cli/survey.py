"""``baraza survey check``, ``import`` and ``preview``: survey files.

``check`` and ``preview`` need no configuration; ``import`` reads it only to know the office's
surveys folder (``surveys.directory``), where the converted survey goes unless ``--output`` says
otherwise. A running bot serves a file written there within seconds (:mod:`bot.survey_service`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli import fieldwork, survey_feedback
from bot.config import ConfigError, load_settings
from surveys import panels
from surveys.errors import SurveyFileError
from surveys.loader import load_survey_file, load_survey_text, neighbours
from surveys.model import Survey

#: ``--output -``: the YAML to standard output.
STDOUT = "-"


def add_commands(commands: Any) -> None:
    """Register ``baraza survey ...`` on the top-level sub-parsers."""
    survey = commands.add_parser("survey", help="work with survey files")
    survey_commands = survey.add_subparsers(dest="survey_command", required=True)
    check = survey_commands.add_parser("check", help="check survey files; problems are printed as FILE:LINE: message")
    check.add_argument("files", nargs="+", type=Path)
    convert = survey_commands.add_parser("import", help="convert an ODK/KoBoToolbox XLSForm (.xlsx) into a survey file")
    convert.add_argument("form", type=Path)
    convert.add_argument(
        "--output",
        default=None,
        help="YAML file to write, or - for standard output (default: FORM.yaml in the surveys folder of the configuration)",
    )
    convert.add_argument(
        "--drop-unsupported", action="store_true", help="leave out questions a chat cannot ask (geopoint, photo, ...)"
    )
    preview = survey_commands.add_parser(
        "preview", help="answer a survey (YAML or XLSForm .xlsx) in the terminal, as a respondent sees it"
    )
    preview.add_argument("form", type=Path)
    preview.add_argument(
        "--script", type=Path, default=None, help="answers, one per line, instead of typing them (- : standard input)"
    )
    preview.add_argument("--language", default=None, help="the respondent's language (default: the survey's)")
    fieldwork.add_commands(survey_commands)
    survey_feedback.add_commands(survey_commands)


def run_offline(arguments: argparse.Namespace) -> int:
    """Run ``baraza survey ...`` (no settings needed: it reads only the files given, except for
    the fieldwork commands ``invite``, ``remind`` and ``report``); returns the exit status."""
    if arguments.survey_command in (*fieldwork.FIELDWORK_COMMANDS, survey_feedback.COMMAND):
        config = getattr(arguments, "config", None)
        if config is None and Path("config.yaml").exists():
            config = Path("config.yaml")
        try:
            settings = load_settings(config)
        except ConfigError as error:
            print(f"baraza: {error}", file=sys.stderr)
            return 2
        if arguments.survey_command == survey_feedback.COMMAND:
            return survey_feedback.run(settings, arguments)
        return fieldwork.run(settings, arguments)
    if arguments.survey_command == "import":
        from surveys.xlsform import import_command

        output = import_output(arguments.form, arguments.output, getattr(arguments, "config", None))
        if isinstance(output, int):
            return output
        return import_command(arguments.form, output, arguments.drop_unsupported)
    if arguments.survey_command == "preview":
        return preview(arguments.form, arguments.script, arguments.language)
    return check(arguments.files)


def import_output(form: Path, output: str | None, config: Path | None) -> Path | int | None:
    """Where ``import`` writes: ``--output`` (None for ``-``: standard output), else ``FORM.yaml``
    in the configuration's surveys folder; an exit status when the configuration is unusable."""
    if output == STDOUT:
        return None
    if output is not None:
        return Path(output)
    if config is None and Path("config.yaml").exists():
        config = Path("config.yaml")
    try:
        folder = load_settings(config).surveys_directory
    except ConfigError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 2
    if not folder.is_dir():
        print(f"{folder}:1: the surveys folder does not exist (give --output FILE.yaml)", file=sys.stderr)
        return 1
    return folder / f"{form.stem}.yaml"


def check(files: list[Path]) -> int:
    """Print each file's problems (FILE:LINE: message) or a one-line summary; 1 if any file fails.
    A wave of a panel is checked against its previous wave, among the files given and the surveys
    beside them."""
    failed = False
    loaded: dict[Path, Survey] = {}
    for path in files:
        try:
            loaded[path] = load_survey_file(path)
        except SurveyFileError as error:
            failed = True
            for problem in error.problems:
                print(problem)
    among = neighbours(loaded) if any(s.panel is not None for s in loaded.values()) else []
    for path, survey in loaded.items():
        problems = panels.panel_problems([survey], [*among, *loaded.values()])
        if problems:
            failed = True
            for problem in problems:
                print(problem)
            continue
        print(
            f"{path}: ok: survey '{survey.id}', {len(survey.data_questions)} questions, languages {', '.join(survey.languages)}"
        )
    return 1 if failed else 0


def preview_survey(form: Path) -> Survey | None:
    """The survey of a YAML file or an XLSForm workbook; problems printed (None) if it has some."""
    try:
        if form.suffix.lower() in {".xlsx", ".xls"}:
            from surveys.xlsform import XlsformError, convert_xlsform

            try:
                conversion = convert_xlsform(form, drop_unsupported=True)
            except XlsformError as error:
                for issue in error.issues:
                    print(issue, file=sys.stderr)
                return None
            for issue in conversion.dropped:
                print(issue, file=sys.stderr)
            return load_survey_text(conversion.yaml_text, f"{form.stem}.yaml")
        return load_survey_file(form)
    except SurveyFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return None


def preview(form: Path, script: Path | None, language: str | None) -> int:
    """``baraza survey preview FORM [--script answers.txt] [--language fr]``: 0 when the survey
    was answered to its end, 1 when the input ended before, or the file has problems."""
    from bot.preview import preview as run_preview

    survey = preview_survey(form)
    if survey is None:
        print(f"{form}: cannot preview: fix the problems above", file=sys.stderr)
        return 1
    if language is not None and language not in survey.languages:
        print(
            f"{form}: the survey has no language '{language}' (it has {', '.join(survey.languages)})", file=sys.stderr
        )
        return 1
    interactive = script is None and sys.stdin.isatty()
    if script is not None and str(script) != STDOUT:
        lines: Any = script.read_text(encoding="utf-8").splitlines()
    else:
        lines = _typed() if interactive else sys.stdin
    finished = asyncio.run(
        run_preview(survey, lines, sys.stdout, echo=not interactive, terminal=sys.stdout.isatty(), language=language)
    )
    return 0 if finished else 1


def _typed() -> Any:
    """Lines typed at the terminal, each after a ``> `` prompt; ends with Ctrl-D."""
    while True:
        try:
            yield input("> ")
        except EOFError:
            print()
            return
