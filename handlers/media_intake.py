"""Keeping a file before the transaction that answers with it.

Checking, scaling (``max_pixels``) and writing a photo take tens of milliseconds, and a bucket adds
a network round trip; inside the update's transaction that time would hold the database's write
lock (SQLite has one writer) and every other chat would wait. So the engine calls
:func:`keep_before` first, on a read-only connection: when the person is at a media question of a
survey and the file is fine for it, the file is prepared and kept, and the upload carries where
(:class:`~handlers.messages.KeptFile`). In the transaction
:func:`flow_driver.on_media <handlers.flow_driver.on_media>` then only records the name; if the
person is no longer at that question (another worker moved them on), it prepares the file again
and the first copy stays an orphan, as after a crash. Anything else (a refusal, no conversation)
is left to the transaction, which gives the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

from handlers import media, survey
from handlers.messages import Inbound, KeptFile
from storage.media import MediaStore, new_name
from storage.repositories import Repositories
from surveys.answers import Problem
from surveys.model import Survey


async def keep_before(
    repos: Repositories, surveys: Mapping[str, Survey], store: MediaStore, inbound: Inbound
) -> Inbound:
    """``inbound`` with its upload kept in ``store`` (and :attr:`Upload.kept` set) when it answers
    the current question of the person's survey; else ``inbound`` as it was."""
    upload = inbound.upload
    if upload is None or not upload.content or upload.kept is not None:
        return inbound
    contact_id = await repos.contacts.find(inbound.channel, inbound.user_key)
    conversation = await repos.conversations.get(contact_id) if contact_id is not None else None
    if conversation is None or conversation.flow != survey.FLOW or conversation.current_question is None:
        return inbound
    definition = surveys.get(conversation.survey_id or "")
    if definition is None or not definition.has_question(conversation.current_question):
        return inbound
    question = definition.question(conversation.current_question)
    if not question.is_media or media.upload_problem(question, upload, store.max_bytes) is not None:
        return inbound
    prepared = await asyncio.to_thread(media.prepared, question, upload)
    if isinstance(prepared, Problem):
        return inbound
    name = new_name(prepared.extension)
    await store.put(definition.id, name, prepared.content)
    return replace(inbound, upload=replace(upload, kept=KeptFile(definition.id, question.name, name)))
