"""``/define``: what a term of official statistics means, from the office's glossary.

``/define inflation`` shows the term and its definition in the person's language (the glossary's
default language when the concept lacks theirs), the source or standard it follows, and the
related terms as buttons (``c:<concept id>``). A typo or an accent left out still finds the term;
several close terms are offered as buttons; ``/define`` alone offers a few popular terms.
A press on a concept that is no longer in the glossary says so, and changes nothing.
"""

from __future__ import annotations

from catalogue.concept_search import ConceptIndex
from catalogue.concepts import Concept, Glossary
from handlers.context import Context
from handlers.messages import Button, Outbound
from handlers.payloads import prefixed

PAYLOAD_PREFIX = "c:"
MAX_RELATED = 6
PER_ROW = 2
MAX_QUERY_SHOWN = 40
MAX_QUERY = 200  # longer text is not a term; it would only cost search time

_index_cache: dict[int, tuple[Glossary, ConceptIndex]] = {}


def concept_payload(concept_id: str) -> str:
    return prefixed(PAYLOAD_PREFIX, concept_id)  # concept ids are at most 60 ASCII characters


def index_of(glossary: Glossary) -> ConceptIndex:
    """The search index of a glossary, built on first use (one glossary is in use at a time)."""
    cached = _index_cache.get(id(glossary))
    if cached is None or cached[0] is not glossary:
        _index_cache.clear()
        cached = (glossary, ConceptIndex(glossary))
        _index_cache[id(glossary)] = cached
    return cached[1]


async def define(ctx: Context, argument: str) -> list[Outbound]:
    """``/define [term]``."""
    glossary = ctx.community.glossary
    if not len(glossary):
        return [Outbound(text=ctx.texts("define_no_glossary"))]
    query = argument.strip()
    if not query:
        return [_offer(ctx, ctx.texts("define_ask"), glossary.suggestions())]
    match = index_of(glossary).search(query[:MAX_QUERY])
    shown = query[:MAX_QUERY_SHOWN]
    if match.concept is not None:
        return [card(ctx, match.concept)]
    if match.choices:
        return [_offer(ctx, ctx.texts("define_choices", term=shown), list(match.choices))]
    return [_offer(ctx, ctx.texts("define_not_found", term=shown), glossary.suggestions())]


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """A related-term or choice button: show that concept."""
    concept = ctx.community.glossary.get(payload[len(PAYLOAD_PREFIX) :])
    if concept is None:
        return [Outbound(text=ctx.texts("define_unknown_concept"))]
    return [card(ctx, concept)]


def card(ctx: Context, concept: Concept) -> Outbound:
    """The concept in the person's language: term, definition, source; related terms as buttons."""
    glossary = ctx.community.glossary
    language = ctx.language
    lines = [f"📘 {glossary.term(concept, language)}", "", glossary.definition(concept, language)]
    source = glossary.source(concept, language)
    if source:
        lines += ["", ctx.texts("define_source", source=source)]
    related = [glossary.concepts[other] for other in concept.related if other in glossary.concepts][:MAX_RELATED]
    if related:
        lines += ["", ctx.texts("define_related")]
    return Outbound(text="\n".join(lines), buttons=_rows(ctx, related))


def _offer(ctx: Context, text: str, concepts: list[Concept]) -> Outbound:
    return Outbound(text=text, buttons=_rows(ctx, concepts))


def _rows(ctx: Context, concepts: list[Concept]) -> tuple[tuple[Button, ...], ...]:
    glossary = ctx.community.glossary
    buttons = [Button(glossary.term(concept, ctx.language), concept_payload(concept.id)) for concept in concepts]
    return tuple(tuple(buttons[i : i + PER_ROW]) for i in range(0, len(buttons), PER_ROW))
