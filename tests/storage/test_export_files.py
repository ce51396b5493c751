"""storage/exports/files.py: the export files the command and the dashboard both write."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

import pytest

from storage.exports import Column, Kind, Table
from storage.exports.files import ExportError, atomically, write_export, write_text
from storage.exports.table import Row


def _table() -> Table:
    async def rows() -> AsyncIterator[Row]:
        yield ("1",)
        yield ("2",)

    return Table(title="t", columns=(Column("a", "A", Kind.TEXT),), rows=rows, total=2)


def test_a_file_appears_only_complete_and_a_failure_leaves_no_part_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("before", encoding="utf-8")

    async def fail(path: Path) -> None:
        await asyncio.to_thread(path.write_text, "half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        asyncio.run(atomically(target, fail))
    assert target.read_text(encoding="utf-8") == "before"
    assert list(tmp_path.iterdir()) == [target]

    async def succeed(path: Path) -> int:
        assert path.name == "out.csv.part"
        await asyncio.to_thread(path.write_text, "after", encoding="utf-8")
        return 5

    assert asyncio.run(atomically(target, succeed)) == 5
    assert target.read_text(encoding="utf-8") == "after"
    assert list(tmp_path.iterdir()) == [target]


async def test_text_goes_to_a_stream_as_it_is_or_to_a_file_atomically(tmp_path: Path) -> None:
    async def hello(out: TextIO) -> int:
        out.write("héllo\n")
        return 1

    stream = io.StringIO()
    assert await write_text(stream, hello) == 1
    assert stream.getvalue() == "héllo\n"
    assert await write_text(tmp_path / "h.txt", hello) == 1
    assert (tmp_path / "h.txt").read_bytes() == "héllo\n".encode()


async def test_a_binary_format_is_refused_on_a_stream_and_written_to_a_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="xlsx cannot be written to standard output"):
        await write_export(_table(), "xlsx", io.StringIO())
    exported = await write_export(_table(), "csv", tmp_path / "t.csv")
    assert exported.rows == 2
    assert (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines() == ["a", "1", "2"]
