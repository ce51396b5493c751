"""What every repository is: statements on the caller's connection, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


class Repository:
    """Runs its statements on ``connection``, in whatever transaction the caller opened: a
    repository never begins or commits one, so several repositories' changes commit together."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection


def from_row(kind: type[T], row: Any, **converted: Any) -> T:
    """The frozen dataclass ``kind`` with every field read from the row's column of the same name,
    except the fields given in ``converted`` (values that need converting, such as times)."""
    columns = row._mapping
    names = [field.name for field in fields(cast(Any, kind))]
    return kind(**{name: converted[name] if name in converted else columns[name] for name in names})
