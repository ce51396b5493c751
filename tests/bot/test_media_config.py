"""``media:`` in config.yaml: the folder (relative to the file), the size limit, the bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from storage.media import DEFAULT_MAX_BYTES, S3Settings


def settings_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_settings(path, environ or {})


def test_the_default_folder_is_data_media_next_to_the_config(tmp_path: Path) -> None:
    media = settings_of(tmp_path, "bot: {default_language: en}\n").media
    assert media.directory == tmp_path / "data" / "media"
    assert media.max_bytes == DEFAULT_MAX_BYTES and media.s3 is None


def test_folder_limit_and_bucket_are_read_and_the_folder_may_come_from_the_environment(tmp_path: Path) -> None:
    media = settings_of(
        tmp_path,
        "media:\n  directory: files\n  max_mb: 2.5\n"
        "  s3: {bucket: office-media, endpoint: 'http://127.0.0.1:9000', prefix: baraza/}\n",
    ).media
    assert media.directory == tmp_path / "files" and media.max_bytes == int(2.5 * 1_048_576)
    assert media.s3 == S3Settings(bucket="office-media", endpoint="http://127.0.0.1:9000", prefix="baraza/")
    moved = settings_of(tmp_path, "media: {directory: files}\n", {"BARAZA_MEDIA_DIR": "/srv/media"}).media
    assert moved.directory == Path("/srv/media")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("media: {folder: x}\n", "unknown key(s) folder in media"),
        ("media: {max_mb: lots}\n", "media.max_mb must be a number"),
        ("media: {max_mb: 0}\n", "media.max_mb must be greater than 0"),
        ("media: {s3: {endpoint: 'http://x'}}\n", "media.s3.bucket is required"),
        ("media: {s3: {bucket: b, secret_key: abc}}\n", "unknown key(s) secret_key in media.s3"),
    ],
)
def test_a_wrong_media_setting_stops_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_of(tmp_path, text)
