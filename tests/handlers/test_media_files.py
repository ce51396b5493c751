"""Files as answers, before they are kept: their kind, the stored extension, the checks and the
scaling to ``max_pixels`` (pictures made by Pillow in the test)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from handlers.media import Prepared, extension_of, kind_of, prepared, upload_problem
from handlers.messages import Upload
from surveys.answers import Problem
from surveys.loader import load_survey_text
from testkit.media import PDF, VOICE_NOTE, picture, size_of

SURVEY = load_survey_text(
    """
id: s
title: T
questions:
  - {type: image, name: small, label: A, max_pixels: 100}
  - {type: image, name: any, label: B}
  - {type: audio, name: voice, label: C}
  - {type: file, name: doc, label: D}
""",
    "s.yaml",
)


@pytest.mark.parametrize(
    ("upload", "kind"),
    [
        (Upload("file", b"x", "image/png"), "image"),  # a picture sent as a document
        (Upload("audio", b"x", "audio/ogg; codecs=opus"), "audio"),
        (Upload("video", b"x", "video/mp4"), "video"),
        (Upload("file", b"x", "application/pdf"), "file"),
        (Upload("image", b"x", ""), "image"),  # no MIME type: what the adapter said
    ],
)
def test_the_kind_comes_from_the_mime_type(upload: Upload, kind: str) -> None:
    assert kind_of(upload) == kind


def test_extensions_come_from_the_mime_type_only() -> None:
    assert extension_of("image/jpeg") == "jpg"
    assert extension_of("audio/ogg; codecs=opus") == "ogg"
    assert extension_of("application/pdf") == "pdf"
    assert extension_of("application/x-unknown-thing") == "bin"
    assert extension_of("text/x-../../etc") == "bin"


def test_wrong_kind_too_big_and_empty_files_are_refused() -> None:
    image, voice, doc = SURVEY.question("any"), SURVEY.question("voice"), SURVEY.question("doc")
    assert upload_problem(image, Upload("file", PDF, "application/pdf"), 1000) == Problem(
        "wrong_file_type", {"type": "application/pdf"}
    )
    assert upload_problem(voice, Upload("audio", VOICE_NOTE, "audio/ogg"), 1000) == Problem(
        "file_too_big", {"max": "0.000953674"}
    )
    assert upload_problem(doc, Upload("file", b"", "application/pdf", size=5000), 1000) is not None
    assert upload_problem(doc, Upload("file", b"", "application/pdf"), 1000) == Problem("file_unreadable")
    assert upload_problem(doc, Upload("image", picture(5, 5), "image/jpeg"), 10_000) is None


def test_a_picture_is_scaled_to_max_pixels_keeping_its_aspect_and_format() -> None:
    wide = prepared(SURVEY.question("small"), Upload("image", picture(400, 100, "PNG"), "image/png"))
    assert isinstance(wide, Prepared) and wide.extension == "png" and wide.mime_type == "image/png"
    assert size_of(wide.content) == (100, 25)
    tall = prepared(SURVEY.question("small"), Upload("image", picture(300, 600), "image/jpeg"))
    assert isinstance(tall, Prepared) and tall.extension == "jpg" and size_of(tall.content) == (50, 100)


def test_a_small_picture_or_one_without_max_pixels_is_kept_as_sent() -> None:
    content = picture(80, 60)
    kept = prepared(SURVEY.question("small"), Upload("image", content, "image/jpeg"))
    assert isinstance(kept, Prepared) and kept.content == content
    big = picture(3000, 2000)
    kept = prepared(SURVEY.question("any"), Upload("image", big, "image/jpeg"))
    assert isinstance(kept, Prepared) and kept.content == big


def test_the_stored_format_is_what_pillow_finds_not_what_the_sender_claims() -> None:
    claimed_jpeg = prepared(SURVEY.question("any"), Upload("image", picture(20, 20, "PNG"), "image/jpeg"))
    assert isinstance(claimed_jpeg, Prepared) and claimed_jpeg.extension == "png"


def test_exif_orientation_is_applied_before_scaling() -> None:
    image = Image.new("RGB", (400, 200), (10, 20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif)
    scaled = prepared(SURVEY.question("small"), Upload("image", output.getvalue(), "image/jpeg"))
    assert isinstance(scaled, Prepared) and size_of(scaled.content) == (50, 100)


def test_a_picture_with_transparency_scaled_to_jpeg_and_a_gif_become_viewable_files() -> None:
    rgba = Image.new("RGBA", (300, 300), (255, 0, 0, 128))
    output = io.BytesIO()
    rgba.save(output, format="GIF")
    scaled = prepared(SURVEY.question("small"), Upload("image", output.getvalue(), "image/gif"))
    assert isinstance(scaled, Prepared) and scaled.mime_type == "image/jpeg" and size_of(scaled.content) == (100, 100)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xd8\xff\xe0 truncated",
        b"GIF89a",
        picture(50, 50)[:200],
        picture(400, 300, noisy=True)[:20_000],
        picture(400, 300, "PNG", noisy=True)[:20_000],
        PDF,
    ],
    ids=["not-jpeg", "gif-header-only", "cut-header", "jpeg-cut-midway", "png-cut-midway", "pdf"],
)
def test_a_file_that_only_claims_to_be_a_picture_is_unreadable(content: bytes) -> None:
    assert prepared(SURVEY.question("any"), Upload("image", content, "image/jpeg")) == Problem("file_unreadable")


def test_a_decompression_bomb_is_refused_without_decoding_it() -> None:
    image = Image.new("1", (9000, 9000))  # 81 million pixels in a few kilobytes
    output = io.BytesIO()
    image.save(output, format="PNG")
    assert len(output.getvalue()) < 100_000
    refused = prepared(SURVEY.question("small"), Upload("image", output.getvalue(), "image/png"))
    assert refused == Problem("file_unreadable")


def test_other_files_are_kept_as_sent_with_the_extension_of_their_type() -> None:
    kept = prepared(SURVEY.question("voice"), Upload("audio", VOICE_NOTE, "audio/ogg; codecs=opus"))
    assert kept == Prepared(VOICE_NOTE, "audio/ogg", "ogg")
