"""The README and docs/ say only what runs: every command, make target and file they name exists.

Commands are read from the fenced shell blocks (```sh, ```bash, ```shell, ```console) of
README.md, docs/*.md and office/**/README.md: each ``baraza GROUP [ACTION]`` answers ``--help``
with exit status 0 (through the entry point pyproject.toml declares), each ``make TARGET`` is a
target of the Makefile, and each ``python -m MODULE`` is a module of the repository. File paths are checked wherever they appear: relative links
``[text](path)``, paths in backticks, and the arguments of the commands, when they start with
a folder of the repository (``office/...``, ``bot/...``); globs must match something.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from testkit.paths import ROOT

README_MAX_LINES = 300
PAGES = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("office/**/README.md")])
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
IMAGE = re.compile(r'<img src="([^"]+)"')
BACKTICKED = re.compile(r"`([^`\s]+)`")
#: Options whose value is a file the command writes.
WRITES = {"--output", "-o", "--codebook"}
#: Top-level folders and files of the repository: a path starting with one of these must exist.
#: (Folders the checkout ignores, such as data/ that `make run` creates, are not the repository's.)
IGNORED = {line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines() if line.endswith("/")}
TOP_LEVEL = {path.name for path in ROOT.iterdir() if not path.name.startswith(".")} - IGNORED | {"common"}
#: What sibling branches of issue 15 add (the import contract's test, common/, make test-fast,
#: make screenshots). Strict xfail: once they exist, these entries must be removed from here.
PENDING: set[str] = set()


def shell_lines(text: str) -> Iterator[str]:
    """The commands of every fenced shell block, comments removed, continuation lines joined."""
    for block in SHELL_BLOCK.findall(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if line:
                yield line


def commands(line: str) -> Iterator[list[str]]:
    """The simple commands of a shell line (split on ``&&``, ``|``, ``;``), each as words,
    with leading ``NAME=value`` assignments and redirections dropped."""
    for part in re.split(r"&&|\|\|?|;", line):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        words = [w for w in words if not re.match(r"^[0-9]?[<>]", w)]
        if words:
            yield words


def baraza_arguments(words: list[str]) -> list[str] | None:
    """``[GROUP, ACTION]`` (or ``[GROUP]``) of a ``baraza`` command, None for other programs."""
    if Path(words[0]).name != "baraza":
        return None
    rest = words[1:]
    # `baraza [--config PATH] run` (the synopsis) and `baraza --config FILE run`.
    while rest and (rest[0].startswith("[") or rest[0] == "--config" or rest[0].endswith("]")):
        skip = 2 if rest[0] == "--config" else 1
        rest = rest[skip:]
    named = []
    for word in rest[:2]:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        named.append(word)
    return named


def references() -> Iterator[tuple[str, str, str]]:
    """``(page, kind, what)`` for every command, target and path the pages name."""
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        text = page.read_text(encoding="utf-8")
        for line in shell_lines(text):
            for words in commands(line):
                arguments = baraza_arguments(words)
                if arguments is not None:
                    yield name, "baraza", " ".join(arguments)
                elif "-m" in words[:-1] and Path(words[0]).name.startswith("python"):
                    yield name, "module", words[words.index("-m") + 1]
                elif words[0] == "make":
                    for target in words[1:]:
                        if not target.startswith("-") and "=" not in target:
                            yield name, "make", target
                for before, word in pairwise(words):
                    # What a command writes (--output FILE) need not exist before it runs.
                    if before not in WRITES and is_repository_path(word):
                        yield name, "path", word
        prose = SHELL_BLOCK.sub("", text)
        for link in LINK.findall(prose) + IMAGE.findall(prose):
            if re.match(r"[a-z]+:", link):
                continue
            target, _, anchor = link.partition("#")
            resolved = (page.parent / target).resolve() if target else page
            relative = str(resolved.relative_to(ROOT)) + ("/" if target.endswith("/") else "")
            if target:
                yield name, "path", relative
            if anchor:
                yield name, "anchor", f"{relative}#{anchor}"
        for quoted in BACKTICKED.findall(prose):
            if is_repository_path(quoted):
                yield name, "path", quoted


def is_repository_path(word: str) -> bool:
    """Whether ``word`` names something in the repository: a relative path whose first part is
    one of its top-level folders (``office/notices/x.yaml``, ``bot/channels/``)."""
    if not re.fullmatch(r"[\w.-]+(/[\w.*-]+)*/|[\w.-]+(/[\w.*-]+)+", word):
        return False
    return word.split("/", 1)[0] in TOP_LEVEL


def _id(reference: tuple[str, str, str]) -> str:
    return f"{reference[0]}:{reference[1]}:{reference[2]}"


def pending(reference: tuple[str, str, str]) -> bool:
    _, kind, what = reference
    return f"make {what}" in PENDING if kind == "make" else what in PENDING


ALL = sorted(set(references()))
MARKED = [
    pytest.param(*r, id=_id(r), marks=pytest.mark.xfail(strict=True, reason="added by another branch"))
    if pending(r)
    else pytest.param(*r, id=_id(r))
    for r in ALL
]


def test_the_readme_is_a_front_door_of_at_most_300_lines() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move the depth to docs/"


def test_the_pages_name_commands_targets_and_files() -> None:
    """The extraction itself finds what the pages are known to hold (else the checks below
    would pass on nothing)."""
    kinds = {(page, kind) for page, kind, _ in ALL}
    assert ("README.md", "baraza") in kinds and ("README.md", "make") in kinds
    assert ("docs/commands.md", "baraza") in kinds and ("docs/operations.md", "path") in kinds
    assert ("README.md", "baraza", "staff add") in ALL
    assert ("README.md", "path", "docs/screenshots/webchat-consent.png") in ALL


@pytest.mark.parametrize(("page", "kind", "what"), [p for p in MARKED if p.values[1] == "path"])
def test_every_file_named_exists(page: str, kind: str, what: str) -> None:
    if "*" in what:
        assert list(ROOT.glob(what)), f"{page}: nothing matches {what}"
    else:
        assert (ROOT / what).exists(), f"{page}: {what} does not exist"


@pytest.mark.parametrize(("page", "kind", "what"), [p for p in MARKED if p.values[1] == "make"])
def test_every_make_target_exists(page: str, kind: str, what: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w.-]*):", makefile, re.MULTILINE))
    assert what in targets, f"{page}: make {what} is not a target of the Makefile"


@pytest.mark.parametrize(("page", "kind", "what"), [p for p in MARKED if p.values[1] == "module"])
def test_every_python_module_run_exists(page: str, kind: str, what: str) -> None:
    """``python -m MODULE`` (benchmarks, tests): the module's file is in the repository."""
    if what == "pytest":
        return
    parts = what.split(".")
    assert (ROOT.joinpath(*parts).with_suffix(".py")).exists() or (ROOT.joinpath(*parts) / "__main__.py").exists(), (
        f"{page}: python -m {what}: no such module"
    )


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``page``: lower case, punctuation dropped,
    spaces as hyphens."""
    text = SHELL_BLOCK.sub("", page.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize(("page", "kind", "what"), [p for p in MARKED if p.values[1] == "anchor"])
def test_every_link_to_a_section_finds_its_heading(page: str, kind: str, what: str) -> None:
    target, anchor = what.split("#", 1)
    assert anchor in heading_anchors(ROOT / target), f"{page}: {target} has no heading #{anchor}"


def entry_point() -> str:
    """``module:function`` of the ``baraza`` script, as pyproject.toml declares it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(project["project"]["scripts"]["baraza"])


def test_every_baraza_command_answers_help() -> None:
    """``baraza GROUP [ACTION] --help`` exits 0 for every command the pages name: one child
    process runs them all through the real entry point."""
    wanted = sorted({what for _, kind, what in ALL if kind == "baraza"})
    assert len(wanted) > 20
    module, function = entry_point().split(":")
    script = (
        "import contextlib, io, json, sys, importlib\n"
        f"main = getattr(importlib.import_module({module!r}), {function!r})\n"
        "codes = {}\n"
        "for command in json.loads(sys.argv[1]):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        try:\n"
        "            codes[command] = main(command.split() + ['--help'])\n"
        "        except SystemExit as stop:\n"
        "            codes[command] = stop.code\n"
        "print(json.dumps(codes))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(wanted)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    codes = json.loads(result.stdout.strip().splitlines()[-1])
    failing = {command: code for command, code in codes.items() if code not in (0, None)}
    assert failing == {}, f"baraza commands named in the docs that do not exist: {failing}"
