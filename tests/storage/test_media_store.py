"""The media store: a folder (0600 files, names without personal data) and an S3-compatible
bucket (moto's server on 127.0.0.1)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.media import (
    FolderMediaStore,
    MediaSettings,
    MediaStore,
    MediaStoreError,
    S3MediaStore,
    S3Settings,
    new_name,
    open_media_store,
)
from testkit.fakes.s3_server import ACCESS_KEY, SECRET_KEY, s3_server

BUCKET = "baraza-media"


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MediaStore]:
    if request.param == "folder":
        yield FolderMediaStore(tmp_path / "media", max_bytes=1000)
        return
    with s3_server(BUCKET) as endpoint:
        settings = S3Settings(bucket=BUCKET, endpoint=endpoint, prefix="office/")
        environ = {settings.access_key_env: ACCESS_KEY, settings.secret_key_env: SECRET_KEY}
        yield S3MediaStore(settings, max_bytes=1000, environ=environ)


def test_new_names_are_random_hex_with_the_extension() -> None:
    first, second = new_name("JPG"), new_name(".ogg")
    assert first != second
    assert first.endswith(".jpg") and second.endswith(".ogg")
    assert len(first.split(".")[0]) == 32 and int(first.split(".")[0], 16) >= 0
    with pytest.raises(MediaStoreError):
        new_name("../x")


async def test_a_file_is_kept_read_listed_and_deleted_per_survey(store: MediaStore) -> None:
    name = new_name("jpg")
    await store.put("household", name, b"\xff\xd8picture")
    other = new_name("ogg")
    await store.put("other-survey", other, b"voice")
    assert await store.get("household", name) == b"\xff\xd8picture"
    assert await store.names("household") == [name]
    assert await store.names("other-survey") == [other]
    assert await store.names("nobody") == []
    await store.delete("household", name)
    assert await store.names("household") == []
    with pytest.raises(MediaStoreError):
        await store.get("household", name)


async def test_names_that_could_leave_the_store_are_refused(store: MediaStore) -> None:
    for survey_id, name in (("../etc", new_name("jpg")), ("household", "../../passwd"), ("household", "photo.jpg")):
        with pytest.raises(MediaStoreError):
            await store.put(survey_id, name, b"x")


async def test_folder_files_are_private_and_written_whole(tmp_path: Path) -> None:
    store = FolderMediaStore(tmp_path / "media")
    name = new_name("png")
    await store.put("household", name, b"\x89PNG...")
    path = tmp_path / "media" / "household" / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temporary file left behind


async def test_the_bucket_keeps_files_under_the_prefix_and_survey(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    with s3_server(BUCKET) as endpoint:
        settings = MediaSettings(directory=tmp_path / "unused", s3=S3Settings(bucket=BUCKET, endpoint=endpoint))
        environ = {"BARAZA_S3_ACCESS_KEY_ID": ACCESS_KEY, "BARAZA_S3_SECRET_ACCESS_KEY": SECRET_KEY}
        store = S3MediaStore(settings.s3 or S3Settings(bucket=BUCKET), environ=environ)
        name = new_name("mp4")
        await store.put("household", name, b"video")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        keys = [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert keys == [f"household/{name}"]
        assert not (tmp_path / "unused").exists()


async def test_a_missing_bucket_is_a_media_store_error() -> None:
    with s3_server(BUCKET) as endpoint:
        settings = S3Settings(bucket="no-such-bucket", endpoint=endpoint)
        store = S3MediaStore(
            settings, environ={settings.access_key_env: ACCESS_KEY, settings.secret_key_env: SECRET_KEY}
        )
        with pytest.raises(MediaStoreError, match=r"NoSuchBucket|ClientError"):
            await store.put("household", new_name("jpg"), b"x")


def test_the_folder_is_the_default_store(tmp_path: Path) -> None:
    assert isinstance(open_media_store(MediaSettings(directory=tmp_path)), FolderMediaStore)
