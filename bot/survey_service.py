"""The surveys in service: what the bot offers now, followed from the surveys folder while it runs.

``baraza run`` reads the folder once at start (and refuses to start with an invalid file). Then
:class:`SurveysInService` looks at the folder every ``poll_seconds`` (2 s): a new or changed
``*.yaml`` file is loaded and, when valid, served from then on; a file removed withdraws its
survey. The whole set is swapped at once (one new mapping), so an update reads either the old
set or the new one, never half of each: the engine takes :attr:`SurveysInService.current` once
per update, the dashboard reads the object itself.

A broken file (invalid YAML, a bad expression, an id another file uses) changes nothing: the
version in service keeps answering, and the file's ``FILE:LINE: message`` problems are logged
once per change of the file. Responses started on an earlier version go on in the new one (each
response keeps the ``version`` it was started in): the answers given stay, and a person whose
current question went away continues at the first question of the new version still to answer.

A file counts as changed when its content hashes differently. The content is read again only
when the file's modification time or size changed, or while its modification time is recent
(file systems keep times at a few milliseconds: two writes of one size in the same tick look
alike); nothing is read for a folder that did not change.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from common.tasks import cancel_and_wait
from surveys import panels
from surveys.errors import SurveyFileError
from surveys.loader import MAX_FILE_BYTES, load_survey_file, survey_files
from surveys.model import Survey

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
#: A modification time older than this is settled: the same time and size mean the same content.
SETTLED_NS = 2_000_000_000


@dataclass(frozen=True)
class _Seen:
    """A survey file as last looked at, and the survey it gives (the last valid one, if any)."""

    stamp: tuple[int, int]  # modification time (ns), size
    digest: str
    survey: Survey | None


class SurveysInService(Mapping[str, Survey]):
    """The surveys the bot serves, by id; a read-only mapping that follows the surveys folder."""

    def __init__(self, directory: Path, surveys: Mapping[str, Survey], *, poll_seconds: float = POLL_SECONDS) -> None:
        self.directory = directory
        self.poll_seconds = poll_seconds
        self._current: Mapping[str, Survey] = MappingProxyType(dict(surveys))
        by_source = {Path(survey.source): survey for survey in surveys.values()}
        self._seen: dict[Path, _Seen] = {}
        for path in survey_files(directory):
            content = _read(path)
            if content is not None:
                self._seen[path] = _Seen(_stamp(path), _digest(content), by_source.get(path))
        self._task: asyncio.Task[None] | None = None
        #: Set after each look at the folder (tests wait on it).
        self.looked = asyncio.Event()

    # The mapping: the surveys in service now.
    def __getitem__(self, survey_id: str) -> Survey:
        return self._current[survey_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current)

    def __len__(self) -> int:
        return len(self._current)

    @property
    def current(self) -> Mapping[str, Survey]:
        """The surveys in service at this moment, as one mapping that never changes."""
        return self._current

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="survey-folder")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # the bot keeps answering with the surveys in service
                log.exception("could not look at the survey folder %s", self.directory)
            self.looked.set()

    def refresh(self) -> bool:
        """Look at the folder once; swap in the new set when a file changed. True if it did."""
        try:
            paths = survey_files(self.directory)
        except OSError as error:
            log.error("%s:1: cannot read the survey folder (%s); the surveys in service stay", self.directory, error)
            return False
        changed = False
        seen: dict[Path, _Seen] = {}
        for path in paths:
            before = self._seen.get(path)
            try:
                stamp = _stamp(path)
            except OSError:
                continue  # removed while looking: the next look sees it gone
            if before is not None and before.stamp == stamp and stamp[0] < time.time_ns() - SETTLED_NS:
                seen[path] = before
                continue
            content = _read(path)
            if content is None:
                continue
            digest = _digest(content)
            if before is not None and before.digest == digest:
                seen[path] = _Seen(stamp, digest, before.survey)
                continue
            seen[path] = _Seen(stamp, digest, self._load(path, before))
            changed = True
        for path in self._seen.keys() - seen.keys():
            gone = self._seen[path].survey
            if gone is not None:
                log.info("%s: removed: survey '%s' is withdrawn", path, gone.id)
            changed = True
        self._seen = seen
        if not changed:
            return False
        return self._swap()

    def _load(self, path: Path, before: _Seen | None) -> Survey | None:
        """The survey of a new or changed file: the new version if valid, else the one in service."""
        kept = before.survey if before is not None else None
        try:
            survey = load_survey_file(path)
        except SurveyFileError as error:
            for problem in error.problems:
                log.error("%s", problem)
            if kept is not None:
                log.error("%s: not loaded: survey '%s' version %s stays in service", path, kept.id, kept.version)
            else:
                log.error("%s: not loaded: fix the problems above", path)
            return kept
        return survey

    def _swap(self) -> bool:
        surveys: dict[str, Survey] = {}
        for path, seen in sorted(self._seen.items()):
            survey = seen.survey
            if survey is None:
                continue
            if survey.id in surveys:
                other = surveys[survey.id].source
                log.error("%s:1: survey id '%s' is also used by %s; this file is not served", path, survey.id, other)
                continue
            surveys[survey.id] = survey
        old = self._current
        if surveys.keys() == old.keys() and all(surveys[key] is old[key] for key in surveys):
            return False
        for survey_id, survey in surveys.items():
            previous = old.get(survey_id)
            if previous is not survey:
                log.info("survey '%s' version %s in service (%s)", survey_id, survey.version, survey.source)
        for problem in panels.panel_problems(surveys.values()):  # served all the same: last_wave reads as empty
            log.error("%s", problem)
        self._current = MappingProxyType(surveys)
        return True


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_mtime_ns, status.st_size


def _read(path: Path) -> bytes | None:
    try:
        with path.open("rb") as file:
            return file.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def surveys_now(surveys: Mapping[str, Survey]) -> Mapping[str, Survey]:
    """What one update reads: the set in service at this moment (it stays put while the update runs)."""
    return surveys.current if isinstance(surveys, SurveysInService) else surveys
