"""The media store: the files people send as answers (photos, voice notes, videos, documents).

A folder by default (``media.directory``), an S3-compatible bucket when ``media.s3`` is
configured. Either way a file is kept under ``<survey id>/<name>``, where ``name`` is
``<uuid4 hex>.<ext>``: it carries nothing of the person or of the name they gave the file. The
stored answer is that name (see ``docs/surveys.md``).

A file is written before the answer that names it is committed, so a crash in between leaves at
most a file that no answer names (an orphan), never an answer without its file. Files in the
folder are written to a temporary name, flushed and renamed, and are readable by the owner only
(0600).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from storage.errors import StorageError

#: Largest file accepted by default (the platforms' own limits are higher: Telegram bots may fetch 20 MB).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: What a stored name looks like; anything else is refused (no path can be smuggled in).
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,8}$")
_SURVEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class MediaStoreError(StorageError):
    """A file could not be written to or read from the media store."""


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible bucket. The keys come from the environment (``access_key_env`` and
    ``secret_key_env`` name the variables), never from the configuration file."""

    bucket: str
    endpoint: str | None = None
    region: str | None = None
    prefix: str = ""
    access_key_env: str = "BARAZA_S3_ACCESS_KEY_ID"
    secret_key_env: str = "BARAZA_S3_SECRET_ACCESS_KEY"  # noqa: S105 (the name of a variable)


@dataclass(frozen=True)
class MediaSettings:
    """``media:`` in config.yaml: where files go and the largest one accepted."""

    directory: Path = Path("data/media")
    max_bytes: int = DEFAULT_MAX_BYTES
    s3: S3Settings | None = None


class MediaStore(Protocol):
    """Where the files sent as answers are kept."""

    #: The largest file accepted, in bytes.
    max_bytes: int

    async def put(self, survey_id: str, name: str, content: bytes) -> None:
        """Keep ``content`` as ``name`` (made by :func:`new_name`) among the files of ``survey_id``."""
        ...

    async def get(self, survey_id: str, name: str) -> bytes:
        """The content of a kept file; :class:`MediaStoreError` if there is none."""
        ...

    async def delete(self, survey_id: str, name: str) -> None:
        """Forget a kept file (nothing happens if there is none)."""
        ...

    async def names(self, survey_id: str) -> list[str]:
        """The names of the files kept for ``survey_id``, sorted."""
        ...


def new_name(extension: str) -> str:
    """A fresh stored name: ``<uuid4 hex>.<extension>``."""
    extension = extension.lower().lstrip(".")
    if not re.fullmatch(r"[a-z0-9]{1,8}", extension):
        raise MediaStoreError(f"'{extension}' is not a file extension")
    return f"{uuid.uuid4().hex}.{extension}"


def _key(survey_id: str, name: str) -> str:
    if not _SURVEY_ID.match(survey_id) or not STORED_NAME.match(name):
        raise MediaStoreError("not a stored media name")
    return f"{survey_id}/{name}"


class FolderMediaStore:
    """Files under ``directory/<survey id>/<name>``, 0600, in folders of 0700."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    async def put(self, survey_id: str, name: str, content: bytes) -> None:
        path = self.directory / _key(survey_id, name)
        try:
            await asyncio.to_thread(_write_private, path, content)
        except OSError as error:
            raise MediaStoreError(f"cannot write to the media folder: {type(error).__name__}") from error

    async def get(self, survey_id: str, name: str) -> bytes:
        try:
            return await asyncio.to_thread((self.directory / _key(survey_id, name)).read_bytes)
        except OSError as error:
            raise MediaStoreError(f"no stored file {name}") from error

    async def delete(self, survey_id: str, name: str) -> None:
        (self.directory / _key(survey_id, name)).unlink(missing_ok=True)

    async def names(self, survey_id: str) -> list[str]:
        folder = self.directory / survey_id
        if not _SURVEY_ID.match(survey_id) or not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if STORED_NAME.match(p.name))


def _write_private(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` with mode 0600: to a temporary name, synced, then renamed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class S3MediaStore:
    """Files in an S3-compatible bucket under ``<prefix><survey id>/<name>`` (boto3, in a thread)."""

    def __init__(self, settings: S3Settings, max_bytes: int = DEFAULT_MAX_BYTES, environ: dict[str, str] | None = None):
        import boto3  # imported here: only installations with a bucket need it

        env = dict(os.environ) if environ is None else environ
        self.settings = settings
        self.max_bytes = max_bytes
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.endpoint,
            region_name=settings.region or "us-east-1",
            aws_access_key_id=env.get(settings.access_key_env) or None,
            aws_secret_access_key=env.get(settings.secret_key_env) or None,
        )

    def _object(self, survey_id: str, name: str) -> str:
        return self.settings.prefix + _key(survey_id, name)

    async def put(self, survey_id: str, name: str, content: bytes) -> None:
        key = self._object(survey_id, name)
        await self._call("write", self._client.put_object, Bucket=self.settings.bucket, Key=key, Body=content)

    async def get(self, survey_id: str, name: str) -> bytes:
        key = self._object(survey_id, name)
        answer = await self._call("read", self._client.get_object, Bucket=self.settings.bucket, Key=key)
        body: bytes = await asyncio.to_thread(answer["Body"].read)
        return body

    async def delete(self, survey_id: str, name: str) -> None:
        key = self._object(survey_id, name)
        await self._call("delete", self._client.delete_object, Bucket=self.settings.bucket, Key=key)

    async def names(self, survey_id: str) -> list[str]:
        if not _SURVEY_ID.match(survey_id):
            return []
        prefix = f"{self.settings.prefix}{survey_id}/"
        found: list[str] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = await self._call(
                "list", self._client.list_objects_v2, Bucket=self.settings.bucket, Prefix=prefix, **extra
            )
            found += [item["Key"].removeprefix(prefix) for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return sorted(name for name in found if STORED_NAME.match(name))

    async def _call(self, what: str, method: Any, **arguments: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(method, **arguments)
        except (BotoCoreError, ClientError) as error:
            # The error's text may hold the endpoint and key, never the person: the kind suffices.
            raise MediaStoreError(f"cannot {what} in the media bucket: {type(error).__name__}") from error


def open_media_store(settings: MediaSettings) -> MediaStore:
    """The store ``settings`` describe: the bucket when one is configured, else the folder."""
    if settings.s3 is not None:
        return S3MediaStore(settings.s3, settings.max_bytes)
    return FolderMediaStore(settings.directory, settings.max_bytes)
