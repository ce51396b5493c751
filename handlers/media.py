"""Files sent as answers: what kind they are, whether a question takes them, and how they are kept.

A channel adapter fetches the file from its platform and hands it over as an
:class:`~handlers.messages.Upload`; :func:`flow_driver.on_media <handlers.flow_driver.on_media>`
checks it here (:func:`upload_problem`), scales a picture down to the question's
``max_pixels`` (:func:`prepared`), keeps it in the media store and gives the runner its new name.

The kind of a file is read from its MIME type (a photo sent as a document is still a picture);
a picture is opened with Pillow before it is accepted, so a file that only claims to be one is
refused. The extension of the stored name comes from the MIME type (for pictures, from what
Pillow found), never from the name the person gave the file.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from handlers.messages import Upload
from surveys import runner
from surveys.answers import Problem
from surveys.model import Question, QuestionType

#: Extensions of the usual MIME types of pictures, voice notes, videos and documents.
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/bmp": "bmp",
    "image/tiff": "tif",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/webm": "weba",
    "video/mp4": "mp4",
    "video/3gpp": "3gp",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/zip": "zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
}
#: Pillow's format names and the MIME type a scaled or checked picture is kept as.
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
#: Pictures larger than this many pixels are not opened (a "decompression bomb" is refused).
MAX_IMAGE_PIXELS = 60_000_000


@dataclass(frozen=True)
class Prepared:
    """A file ready to be kept: its content, MIME type and the extension of its stored name."""

    content: bytes
    mime_type: str
    extension: str


def kind_of(upload: Upload) -> str:
    """``image``, ``audio``, ``video`` or ``file``, from the MIME type (else what the adapter said)."""
    family = upload.mime_type.split("/", 1)[0].lower()
    if family in ("image", "audio", "video"):
        return family
    return "file" if "/" in upload.mime_type else upload.kind


def extension_of(mime_type: str) -> str:
    """The extension of a stored file of ``mime_type`` (``bin`` when it is not known)."""
    base = mime_type.split(";", 1)[0].strip().lower()
    known = EXTENSIONS.get(base)
    if known is not None:
        return known
    guessed = mimetypes.guess_extension(base) or ".bin"
    extension = guessed.lstrip(".").lower()
    return extension if extension.isalnum() and len(extension) <= 8 else "bin"


def upload_problem(question: Question, upload: Upload, max_bytes: int) -> Problem | None:
    """Why ``upload`` cannot answer the media ``question``, or None: the wrong kind of file, or too big."""
    if not runner.accepts_file(question, kind_of(upload)):
        return Problem("wrong_file_type", {"type": upload.mime_type.split(";", 1)[0][:60] or "?"})
    if len(upload.content) > max_bytes or (upload.size or 0) > max_bytes:
        return Problem("file_too_big", {"max": f"{max_bytes / 1_048_576:g}"})
    if not upload.content:
        return Problem("file_unreadable")
    return None


def prepared(question: Question, upload: Upload) -> Prepared | Problem:
    """The file as it is kept: a picture is checked by opening it and scaled down to the question's
    ``max_pixels`` (longest side, aspect kept); other files are kept as sent."""
    if question.type is not QuestionType.IMAGE and kind_of(upload) != "image":
        mime_type = upload.mime_type.split(";", 1)[0].strip().lower()
        return Prepared(upload.content, mime_type, extension_of(mime_type))
    try:
        with Image.open(io.BytesIO(upload.content)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                return Problem("file_unreadable")
            image_format = image.format or ""
            limit = question.max_pixels
            if limit is None or max(image.size) <= limit:
                # The whole file must decode; a JPEG is decoded at an eighth of its size (much faster).
                if image_format == "JPEG":
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
                mime_type = IMAGE_FORMATS.get(image_format, upload.mime_type.split(";", 1)[0].strip().lower())
                return Prepared(upload.content, mime_type, extension_of(mime_type))
            if image_format == "JPEG":
                image.draft("RGB", (limit, limit))  # decoded at the smallest scale still at least ``limit``
            return _scaled(image, image_format, limit)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return Problem("file_unreadable")


def _scaled(image: Image.Image, image_format: str, limit: int) -> Prepared:
    """``image`` with its longest side ``limit`` pixels, upright, in its own format where Pillow
    writes it (JPEG otherwise)."""
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((limit, limit), Image.Resampling.LANCZOS)
    if image_format not in IMAGE_FORMATS or image_format == "GIF":
        image_format = "JPEG"
    if image_format == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    output = io.BytesIO()
    options = {"quality": 90} if image_format in ("JPEG", "WEBP") else {}
    upright.save(output, format=image_format, **options)
    mime_type = IMAGE_FORMATS[image_format]
    return Prepared(output.getvalue(), mime_type, extension_of(mime_type))
