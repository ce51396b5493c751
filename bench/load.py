"""Load: thousands of simulated users answering the shipped survey at once through the fake Bot
API, against Baraza and, in the same run, against two plain python-telegram-bot bots on the
same fake server and the same simulated users:

- an echo bot (``bench/baseline/echo_bot.py``): the transport's own ceiling on this machine;
- the usual hand-written survey bot (``bench/baseline/conversation_bot.py``): a
  ``ConversationHandler`` with ``PicklePersistence``.

    .venv/bin/python -m bench.load [--users 10000] [--backend sqlite|postgresql|both]
                                   [--mode polling|webhook|both] [--echo-transport httpx|both]
                                   [--baselines all|echo|none] [--survey usat2026|numeric]
                                   [--postgres-via tcp|socket|both]

``--survey numeric --users 100`` is the side-by-side of the scale-out issue: a 10-question
numeric survey (typed numbers, one reply per answer, no onboarding) against the minimal aiohttp
echo bot (``bench/baseline/minimal_echo.py``: long polling on one aiohttp session, no framework,
no storage), with Baraza's rate printed as a ratio to it. The echo bot runs before and after each
Baraza run, and each ratio is to the mean of the two runs around it (the speed of a shared
machine drifts from one minute to the next). ``--postgres-via socket`` (or ``both``)
has the bot reach PostgreSQL through its Unix socket on the same machine rather than over
127.0.0.1 (the load generator still creates and checks the database over TCP).

Each bot is a child process; the fake Bot API and the users run in this process (one asyncio
loop), so the bot's CPU is measured apart from the load generator's. Every user starts the
survey with ``/start usat2026`` and answers all 12 questions (wrong inputs mixed in), one input
at a time, waiting for the bot's reply; an echo user sends as many texts as its respondent makes
inputs. With ``--echo-transport both`` the echo bot also runs on Baraza's aiohttp transport
(``bot/channels/telegram/transport.py``), and Baraza is compared with each. "Inputs" counts every text and button press (a tick is one). Latency is from sending an
input to seeing the reply that follows it. After a Baraza run the stored answers are checked
against what each respondent meant to answer: a figure only counts if every answer is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.machine import describe as describe_machine
from bench.survey_load import cpu_time, process_cpu
from surveys.loader import load_survey_directory
from surveys.model import Survey
from testkit.databases import (
    POSTGRES_SOCKET_DIR,
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
    through_unix_socket,
)
from testkit.exports import assert_export_matches, export_rows
from testkit.fakes.survey_respondent import Respondent
from testkit.fakes.telegram import FakeTelegramServer, FakeUser
from testkit.telegram_harness import FORMS, ROOT, BotProcess, free_port
from testkit.worker_harness import WorkerProcess

TIMEOUT = float(os.environ.get("BENCH_REPLY_TIMEOUT", "900"))  # seconds a user waits for one reply before the run fails


@dataclass
class Run:
    label: str
    inputs: int
    seconds: float
    latencies: list[float]
    bot_cpu: float
    generator_cpu: float
    bot_peak_mib: float

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    def line(self) -> str:
        return (
            f"{self.label:<40} {self.inputs:>7} in {self.seconds:6.1f} s = {self.rate:7.1f}/s"
            f"  p50 {self.percentile(0.5):7.1f}  p99 {self.percentile(0.99):7.1f}"
            f"  p99.9 {self.percentile(0.999):7.1f} ms  bot CPU {self.bot_cpu:6.1f} s"
            f" = {self.bot_cpu / self.inputs * 1000:5.2f} ms/input  generator CPU {self.generator_cpu:6.1f} s"
            f"  bot peak {self.bot_peak_mib:4.0f} MiB"
        )


def peak_mib(pid: int) -> float:
    """The peak resident memory (VmHWM) of a running process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class BaselineProcess:
    """A ``bench.baseline`` bot as a child process (polling, or webhook on its own port)."""

    def __init__(
        self, module: str, server: FakeTelegramServer, mode: str, workdir: Path, request: str = "httpx"
    ) -> None:
        self.server, self.mode, self.port = server, mode, free_port()
        self.log = workdir / f"{module.rsplit('.', 1)[1]}.log"
        self.command = [sys.executable, "-m", module, "--base-url", server.base_url, "--mode", mode]
        self.command += ["--port", str(self.port), "--pickle", str(workdir / "conversation.pickle")]
        self.command += ["--request", request]
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        polls = len(self.server.calls_to("getUpdates"))
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        for _ in range(600):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited:\n{self.log.read_text()[-3000:]}")
            if self.mode == "polling" and len(self.server.calls_to("getUpdates")) > polls:
                return
            if self.mode == "webhook" and self.server.webhook_url is not None:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.command} did not start")

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 60)


NUMERIC_QUESTIONS = 10
NUMERIC_THANKS = "Thank you, all ten numbers are in."


#: How many times each simulated person answers ``numeric10`` in one run (``--rounds``): 100
#: people answering once make too short a run to time (about a second).
ROUNDS = 5


def numeric_survey_folder(rounds: int = ROUNDS) -> Path:
    """A folder holding ``numeric10``: ten integer questions, nothing else (no intro buttons, no
    onboarding), which each person may answer ``rounds`` times."""
    folder = Path(tempfile.mkdtemp()) / "surveys"
    folder.mkdir()
    questions = "".join(
        f"  - {{type: integer, name: q{n}, label: {{en: 'Question {n}: a number'}}}}\n"
        for n in range(1, NUMERIC_QUESTIONS + 1)
    )
    (folder / "numeric10.yaml").write_text(
        "id: numeric10\ntitle: {en: Ten numbers}\ndefault_language: en\nlanguages: [en]\n"
        f"max_responses_per_user: {rounds}\n"
        f"outro: {{en: '{NUMERIC_THANKS}'}}\nquestions:\n{questions}"
    )
    return folder


def numeric_answer(user_index: int, question: int) -> str:
    return str((user_index * 31 + question * 7) % 1000)


async def numeric_user(user: FakeUser, index: int, rounds: int) -> list[float]:
    """Starts ``numeric10`` and types its ten numbers, each as soon as the reply that follows the
    last one arrives (the next question, or the thanks after the tenth), ``rounds`` times over.

    It waits for that reply, not for any message: ``/start`` is answered by two messages (the
    survey's introduction, then question 1), and a person who typed after the first would be a
    message ahead, then one more each round.
    """
    latencies = []
    for _ in range(rounds):
        for step in range(NUMERIC_QUESTIONS + 1):
            expected = f"Question {step + 1}:" if step < NUMERIC_QUESTIONS else NUMERIC_THANKS
            started = time.perf_counter()
            await user.send_text("/start numeric10" if step == 0 else numeric_answer(index, step))
            await user.wait_for_message(lambda message, e=expected: e in (message.text or ""), timeout=TIMEOUT)
            latencies.append(time.perf_counter() - started)
    return latencies


def numeric_inputs(users: int, rounds: int) -> list[int]:
    """Each simulated person's inputs in a ``numeric10`` run: ``/start`` and ten numbers, ``rounds`` times."""
    return [(NUMERIC_QUESTIONS + 1) * rounds] * users


def assert_numeric_export(rows: list[dict[str, str]], users: int, rounds: int) -> None:
    """Every simulated person's ten numbers stored, complete, once per round."""
    numbers = range(1, NUMERIC_QUESTIONS + 1)
    got = sorted(tuple(row[f"q{n}"] for n in numbers) for row in rows)
    expected = sorted(tuple(numeric_answer(i, n) for n in numbers) for i in range(users) for _ in range(rounds))
    assert got == expected, "the export does not hold every number typed"
    assert all(row["complete"] == "true" for row in rows)


async def survey_user(respondent: Respondent) -> list[float]:
    started = time.perf_counter()
    await respondent.open()
    latencies = [time.perf_counter() - started]
    await respondent.answer_until()
    return latencies + respondent.latencies


async def echo_user(user: FakeUser, count: int) -> list[float]:
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        await user.send_text(f"answer {index}")
        await user.wait_for_message(timeout=TIMEOUT)
        latencies.append(time.perf_counter() - started)
    return latencies


async def drive(
    label: str, server: FakeTelegramServer, pid: int, users: list[Callable[[], Awaitable[list[float]]]]
) -> Run:
    bot_before, generator_before, started = process_cpu(pid), cpu_time(), time.perf_counter()
    per_user = await asyncio.gather(*(user() for user in users))
    seconds = time.perf_counter() - started
    latencies = [latency for user in per_user for latency in user]
    return Run(
        label,
        len(latencies),
        seconds,
        latencies,
        process_cpu(pid) - bot_before,
        cpu_time() - generator_before,
        peak_mib(pid),
    )


async def baraza(
    survey: Survey,
    users: int,
    backend: str,
    mode: str,
    forms: Path = FORMS,
    rounds: int = 1,
    *,
    socket_dir: str | None = None,
) -> tuple[Run, list[int]]:
    """Baraza (``baraza run``) on ``backend``; also returns each respondent's number of inputs.
    ``socket_dir``: the bot reaches PostgreSQL through its Unix socket there, not 127.0.0.1:5432."""
    numeric = survey.id == "numeric10"
    url = await create_postgres_database() if backend == "postgresql" else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    bot_url = url if socket_dir is None else through_unix_socket(url, socket_dir)
    workdir = Path(tempfile.mkdtemp())
    try:
        async with FakeTelegramServer(webhook_concurrency=256, webhook_timeout=TIMEOUT) as server:
            bot: BotProcess | WorkerProcess
            if mode == "polling":
                bot = BotProcess(server, bot_url, workdir, forms)
            else:
                bot = WorkerProcess(server, bot_url, workdir, "", forms=forms)
                bot.webhook_url = f"{bot.url}/telegram/webhook"
            await bot.start()
            try:
                assert bot.process is not None
                respondents = (
                    []
                    if numeric
                    else [Respondent(server.user(10_000 + i), i, survey, timeout=TIMEOUT) for i in range(users)]
                )
                people: list[Callable[[], Awaitable[list[float]]]] = (
                    [lambda i=i: numeric_user(server.user(10_000 + i), i, rounds) for i in range(users)]
                    if numeric
                    else [lambda r=r: survey_user(r) for r in respondents]
                )
                where = backend if socket_dir is None else f"{backend} (socket)"
                run = await drive(f"baraza {where} {mode}", server, bot.process.pid, people)
            finally:
                await bot.stop()
        if numeric:
            assert_numeric_export(await export_rows(url, survey), users, rounds)
            return run, numeric_inputs(users, rounds)
        assert_export_matches(await export_rows(url, survey), respondents, survey)
    finally:
        if backend == "postgresql":
            await drop_postgres_database(url)
    return run, [len(r.latencies) + 1 for r in respondents]


async def baseline(
    module: str, label: str, survey: Survey, inputs: list[int], mode: str, request: str = "httpx"
) -> Run:
    workdir = Path(tempfile.mkdtemp())
    async with FakeTelegramServer(webhook_concurrency=256, webhook_timeout=TIMEOUT) as server:
        bot = BaselineProcess(module, server, mode, workdir, request)
        await bot.start()
        try:
            assert bot.process is not None
            if module.endswith("echo_bot") or module.endswith("minimal_echo"):
                people = [server.user(10_000 + i) for i in range(len(inputs))]
                users = [lambda u=u, n=n: echo_user(u, n) for u, n in zip(people, inputs, strict=True)]
            else:
                respondents = [
                    Respondent(server.user(10_000 + i), i, survey, timeout=TIMEOUT) for i in range(len(inputs))
                ]
                users = [lambda r=r: survey_user(r) for r in respondents]
            return await drive(f"{label} {mode}", server, bot.process.pid, users)
        finally:
            await bot.stop()


def ratios(run: Run, echo: Run, conversation: Run | None) -> str:
    against_echo = (
        f"  baraza/echo: rate {run.rate / echo.rate:4.2f} (goal >= 0.80), p99 {run.percentile(0.99) / echo.percentile(0.99):4.2f}"
        " (goal <= 1.25)"
    )
    if conversation is None:
        return f"{against_echo}, CPU per input {run.bot_cpu / run.inputs / (echo.bot_cpu / echo.inputs):4.2f}"
    return (
        f"{against_echo}; baraza/ConversationHandler: rate {run.rate / conversation.rate:4.2f} (goal >= 1.00),"
        f" CPU per input {run.bot_cpu / run.inputs / (conversation.bot_cpu / conversation.inputs):4.2f}"
    )


def minimal_ratios(run: Run, before: Run, after: Run, backend: str) -> str:
    """Baraza's ``run`` against the minimal echo bot's runs just before and just after it (their mean
    rate and CPU): this machine's speed drifts from one minute to the next."""
    goal = 0.5 if backend == "sqlite" else 0.35
    rate = (before.rate + after.rate) / 2
    cpu = (before.bot_cpu / before.inputs + after.bot_cpu / after.inputs) / 2
    return (
        f"  baraza/minimal aiohttp echo (mean of {before.rate:.0f} and {after.rate:.0f}/s):"
        f" rate {run.rate / rate:4.2f} (goal >= {goal}), p99 {run.percentile(0.99):.0f} ms (goal <= 100),"
        f" CPU per input {run.bot_cpu / run.inputs / cpu:4.2f}"
    )


def echo_ratios(run: Run, echo: Run, transport: str) -> str:
    return (
        f"  baraza/echo on {transport}: rate {run.rate / echo.rate:4.2f}, p99"
        f" {run.percentile(0.99) / echo.percentile(0.99):4.2f},"
        f" CPU per input {run.bot_cpu / run.inputs / (echo.bot_cpu / echo.inputs):4.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mode", choices=["polling", "webhook", "both"], default="both")
    parser.add_argument(
        "--echo-transport",
        choices=["httpx", "both"],
        default="httpx",
        help="run the echo bot on PTB's httpx only, or also on Baraza's aiohttp transport",
    )
    parser.add_argument(
        "--baselines",
        choices=["all", "echo", "none"],
        default="all",
        help="which baseline bots run after Baraza: both, the echo bot only (the ConversationHandler bot"
        " takes longest at 10,000 users), or none",
    )
    parser.add_argument("--no-baselines", action="store_true", help="the same as --baselines none")
    parser.add_argument(
        "--survey",
        choices=["usat2026", "numeric"],
        default="usat2026",
        help="the shipped survey (buttons, wrong inputs), or ten typed numbers against the minimal aiohttp echo bot",
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="--survey numeric: times each person answers it")
    parser.add_argument(
        "--postgres-via",
        choices=["tcp", "socket", "both"],
        default="tcp",
        help="--survey numeric: the bot reaches PostgreSQL on 127.0.0.1:5432, through its Unix socket, or both in turn",
    )
    parser.add_argument("--postgres-socket-dir", default=POSTGRES_SOCKET_DIR, help="where PostgreSQL's socket is")
    options = parser.parse_args()
    if options.no_baselines:
        options.baselines = "none"
    if options.survey == "numeric":
        await numeric_side_by_side(options)
        return
    survey = load_survey_directory(FORMS)["usat2026"]
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    if "postgresql" in backends and not postgres_reachable():
        print("postgresql: not reachable on 127.0.0.1:5432, skipped")
        backends.remove("postgresql")
    modes = ["polling", "webhook"] if options.mode == "both" else [options.mode]
    print(f"{options.users} simulated users, survey usat2026 (12 questions, wrong inputs mixed in)")
    print(describe_machine(), flush=True)
    for mode in modes:
        runs = []
        for backend in backends:
            run, inputs = await baraza(survey, options.users, backend, mode)
            print(run.line(), flush=True)
            runs.append(run)
        if options.baselines == "none":
            continue
        echo = await baseline("bench.baseline.echo_bot", "PTB echo bot", survey, inputs, mode)
        print(echo.line(), flush=True)
        echo_aiohttp: Run | None = None
        if options.echo_transport == "both":
            echo_aiohttp = await baseline(
                "bench.baseline.echo_bot", "PTB echo bot (aiohttp)", survey, inputs, mode, "aiohttp"
            )
            print(echo_aiohttp.line(), flush=True)
        conversation: Run | None = None
        if options.baselines == "all":
            conversation = await baseline(
                "bench.baseline.conversation_bot", "PTB ConversationHandler+Pickle", survey, inputs, mode
            )
            print(conversation.line(), flush=True)
        for run in runs:
            print(f"{run.label}:{ratios(run, echo, conversation)}", flush=True)
            if echo_aiohttp is not None:
                print(f"{run.label}:{echo_ratios(run, echo, 'httpx')}", flush=True)
                print(f"{run.label}:{echo_ratios(run, echo_aiohttp, 'aiohttp')}", flush=True)
    generator_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the load generator (fake Bot API + users): {generator_peak:.0f} MiB")


async def numeric_side_by_side(options: argparse.Namespace) -> None:
    """Baraza on each backend, the minimal aiohttp echo bot and PTB's echo bot, polling, one run."""
    forms = numeric_survey_folder(options.rounds)
    survey = load_survey_directory(forms)["numeric10"]
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    if "postgresql" in backends and not postgres_reachable():
        print("postgresql: not reachable on 127.0.0.1:5432, skipped")
        backends.remove("postgresql")
    print(
        f"{options.users} simulated users, survey numeric10 (10 typed numbers, one reply each)"
        f" answered {options.rounds} times each, polling"
    )
    print(describe_machine(), flush=True)
    ways = {"tcp": [None], "socket": [options.postgres_socket_dir], "both": [None, options.postgres_socket_dir]}
    inputs = numeric_inputs(options.users, options.rounds)

    async def minimal_echo() -> Run:
        run = await baseline("bench.baseline.minimal_echo", "minimal aiohttp echo", survey, inputs, "polling")
        print(run.line(), flush=True)
        return run

    # The minimal echo bot before and after each Baraza run, each ratio against the two around it.
    echoes = [await minimal_echo()]
    runs = []
    for backend in backends:
        for socket_dir in ways[options.postgres_via] if backend == "postgresql" else [None]:
            run, _ = await baraza(
                survey, options.users, backend, "polling", forms, options.rounds, socket_dir=socket_dir
            )
            print(run.line(), flush=True)
            echoes.append(await minimal_echo())
            runs.append((backend, run, echoes[-2], echoes[-1]))
    if options.baselines != "none":
        echo = await baseline("bench.baseline.echo_bot", "PTB echo bot", survey, inputs, "polling")
        print(echo.line(), flush=True)
    for backend, run, before, after in runs:
        print(f"{run.label}:{minimal_ratios(run, before, after, backend)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
