"""The one guarded YAML reader: every YAML file Baraza reads goes through :class:`GuardedLoader`.

``yaml.SafeLoader`` refuses arbitrary Python objects but not the other ways a crafted file can
hurt a server:

- a *YAML bomb* ("billion laughs"): a few lines of anchors and aliases that stand for billions
  of values once expanded; every reader that walks the document would expand them;
- deep nesting (``[[[[...]]]]``): PyYAML composes nodes recursively, so some thousands of
  levels raise ``RecursionError`` instead of a message a statistician can act on;
- a recursive alias (``&a [*a]``), which walks forever.

:class:`GuardedLoader` composes the document as ``SafeLoader`` does and refuses each of these
with a :class:`YamlLimitError`, a ``yaml.MarkedYAMLError`` carrying the line. The readers go
through :func:`compose_document` or :func:`load_document`, which turn any YAML error (syntax or
limit) into a :class:`YamlSyntaxProblem`, the line and message of a ``FILE:LINE: message``
problem; :func:`compose_file` and :func:`load_located` file it, with the file's name, in the
reader's own kind of :class:`~common.problems.FileProblemsError`. A handful of anchors reused a
few times (as in the shipped metadata file) stays allowed. The file size limit is
:func:`common.problems.read_definition_file`'s job.

Two ways to read with line numbers: walk the node tree of :func:`compose_file` (surveys; with a
:class:`NodeReader`, notices and indicator metadata), or load plain values whose mappings are
:class:`Located` with :func:`load_located` (glossary, release calendar).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common.errors import BarazaError
from common.problems import FileProblemsError, ProblemLog, UnreadableFileError, read_definition_file

#: Deepest nesting of lists and mappings accepted (the shipped files use fewer than 10 levels).
MAX_DEPTH = 64
#: Most aliases (``*name``) accepted in one file.
MAX_ALIASES = 1_000
#: Most values the document may stand for once every alias is expanded.
MAX_EXPANDED_NODES = 1_000_000


class YamlLimitError(ComposerError, BarazaError):
    """A YAML file refused for its shape (bomb, depth, recursion); ``problem_mark`` is the line."""


class GuardedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with limits on nesting depth, alias count and expanded size.

    Use it wherever a ``SafeLoader`` was used: ``GuardedLoader(text).get_single_node()`` or
    ``yaml.load(text, Loader=GuardedLoader)`` (or a subclass that adds constructors).
    """

    max_depth = MAX_DEPTH
    max_aliases = MAX_ALIASES
    max_expanded_nodes = MAX_EXPANDED_NODES

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlLimitError(None, None, f"more than {self.max_aliases} aliases (*name): refused", mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlLimitError(None, None, f"nested deeper than {self.max_depth} levels: refused", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Node | None:
        root: Node | None = super().get_single_node()
        if root is not None and self._aliases:
            check_expansion(root, self.max_expanded_nodes, self.max_depth * 2)
        return root


def check_expansion(root: Node, max_nodes: int, max_depth: int) -> None:
    """Raise :class:`YamlLimitError` if ``root``, with its aliases expanded, is too big or recursive.

    Aliases make the node tree a graph; each node's expanded size is computed once, so the check
    costs as much as the file is long, not as much as the bomb would expand to.
    """
    sizes: dict[int, tuple[int, int]] = {}
    in_progress: set[int] = set()

    def children(node: Node) -> list[Node]:
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    # An explicit stack: a recursive walk is what the depth limit protects against.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            in_progress.discard(key)
            size, depth = 1, 1
            for child in children(node):
                child_size, child_depth = sizes[id(child)]
                size += child_size
                depth = max(depth, child_depth + 1)
            if size > max_nodes:
                raise YamlLimitError(
                    None, None, f"the aliases (*name) expand to more than {max_nodes} values: refused", node.start_mark
                )
            if depth > max_depth:
                raise YamlLimitError(
                    None, None, f"the aliases (*name) nest deeper than {max_depth} levels: refused", node.start_mark
                )
            sizes[key] = (size, depth)
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise YamlLimitError(None, None, "an alias (*name) refers to itself: refused", node.start_mark)
        in_progress.add(key)
        stack.append((node, True))
        for child in children(node):
            child_key = id(child)
            if child_key in in_progress:
                raise YamlLimitError(None, None, "an alias (*name) refers to itself: refused", child.start_mark)
            if child_key not in sizes:
                stack.append((child, False))


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` through :class:`GuardedLoader` (for plain data such as config.yaml)."""
    return yaml.load(text, Loader=GuardedLoader)  # noqa: S506 (GuardedLoader is a SafeLoader)  # nosec B506


class YamlSyntaxProblem(BarazaError):
    """A YAML text that does not parse (or is refused by the limits), as ``line`` and ``message``.

    ``line`` is 1-based (1 when YAML names no place); ``message`` starts with ``YAML syntax
    error:``. The reader that caught it prefixes its file name.
    """

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"{line}: {message}")
        self.line = line
        self.message = message


@contextmanager
def _syntax_problems() -> Iterator[None]:
    """Turn a ``yaml.YAMLError`` raised inside the block into a :class:`YamlSyntaxProblem`."""
    try:
        yield
    except yaml.MarkedYAMLError as error:
        # The context mark is the opening of what was left unclosed: better than no line at all.
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        message = f"YAML syntax error: {error.problem}"
        if "expected ',' or '}'" in message:
            message += " (inside {...} put texts that contain '?', ',' or ':' in quotes)"
        raise YamlSyntaxProblem(line, message) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxProblem(1, f"YAML syntax error: {error}") from None


def compose_document(text: str) -> tuple[GuardedLoader, Node | None]:
    """The loader and the root node of the one document in ``text`` (None: the text is empty).

    Raises :class:`YamlSyntaxProblem`. The loader is returned so that the caller can construct
    the values of the nodes it walks (``loader.construct_object(node, deep=True)``).
    """
    loader = GuardedLoader(text)
    try:
        with _syntax_problems():
            return loader, loader.get_single_node()
    finally:
        loader.dispose()


def load_document(text: str, loader_class: type[GuardedLoader] = GuardedLoader) -> Any:
    """The value of the one document in ``text``, built by ``loader_class`` (None: the text is empty).

    Raises :class:`YamlSyntaxProblem`, for construction errors (an unknown tag) as for syntax.
    """
    with _syntax_problems():
        return yaml.load(text, Loader=loader_class)  # noqa: S506 (a GuardedLoader is a SafeLoader)  # nosec B506


class NodeReader:
    """Reads the node tree of :func:`compose_file`, collecting problems at their node's line in
    ``log`` (whose error the reader raises at the end).

    The subclass reads its own format with :meth:`mapping`, :meth:`string` and :meth:`value`.
    """

    def __init__(self, path: str, loader: yaml.SafeLoader, log: ProblemLog) -> None:
        self.path = path
        self.loader = loader
        self.log = log

    def problem(self, node: Node, message: str) -> None:
        """Record ``message`` as a problem at ``node``'s line."""
        self.log.add(self.path, node.start_mark.line + 1, message)

    def value(self, node: Node) -> Any:
        """The value of a scalar node (None for a list or mapping)."""
        if not isinstance(node, ScalarNode):
            return None
        return self.loader.construct_object(node, deep=True)

    def mapping(
        self, node: Node, what: str, known: Collection[str] | None = None
    ) -> dict[str, tuple[Node, Node]] | None:
        """The (key node, value node) of each key of a mapping node, or None (and a problem) if it
        is not one; a key given twice or not in ``known`` (None: any key) is a problem, left out."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping of keys to values")
            return None
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = str(self.value(key_node))
            if key in entries:
                self.problem(key_node, f"{what} has the key '{key}' twice")
            elif known is not None and key not in known:
                self.problem(key_node, f"unknown key '{key}' in {what} (known keys: {', '.join(sorted(known))})")
            else:
                entries[key] = (key_node, value_node)
        return entries

    def string(self, node: Node, what: str) -> str | None:
        """A non-empty text, stripped, or None (and a problem)."""
        value = self.value(node)
        if value is None or isinstance(value, (bool, list, dict)) or str(value).strip() == "":
            self.problem(node, f"{what} must be a non-empty text")
            return None
        return str(value).strip()


# --------------------------------------------------------------------------- files


def read_file(path: Path, max_bytes: int, error: type[FileProblemsError]) -> str:
    """The text of a definition file; an unreadable or too large one raises ``error`` at ``FILE:1:``."""
    try:
        return read_definition_file(path, max_bytes)
    except UnreadableFileError as problem:
        raise error.at(path, 1, str(problem)) from None


def compose_file(
    text: str, path: str, error: type[FileProblemsError], *, empty: str = "the file is empty"
) -> tuple[GuardedLoader, Node]:
    """The loader and root node of a definition file's text (see :func:`compose_document`).

    A syntax error or an empty text raises ``error`` with its ``FILE:LINE: message``.
    """
    try:
        loader, root = compose_document(text)
    except YamlSyntaxProblem as problem:
        raise error.at(path, problem.line, problem.message) from None
    if root is None:
        raise error.at(path, 1, empty)
    return loader, root


class Located(dict[str, Any]):
    """A YAML mapping that knows its own line and the line of each value (1-based)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}
        self.duplicates: list[tuple[str, int]] = []

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _LocatedLoader(GuardedLoader):
    """A guarded loader whose mappings are :class:`Located`."""


def _construct_located(loader: _LocatedLoader, node: MappingNode) -> Located:
    loader.flatten_mapping(node)
    mapping = Located(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = str(loader.construct_object(key_node, deep=True))
        if key in mapping:
            mapping.duplicates.append((key, key_node.start_mark.line + 1))
            continue
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = value_node.start_mark.line + 1
    return mapping


def _construct_timestamp(loader: _LocatedLoader, node: yaml.ScalarNode) -> Any:
    """A date or time; an impossible one (2027-13-01) stays text, for the checks to report."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LocatedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_located)
_LocatedLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def load_located(text: str, path: str, error: type[FileProblemsError]) -> Located:
    """The top-level mapping of a definition file, every mapping in it :class:`Located`.

    A syntax error, an empty file or one that is not a mapping raises ``error`` at its line.
    """
    try:
        root = load_document(text, _LocatedLoader)
    except YamlSyntaxProblem as problem:
        raise error.at(path, problem.line, problem.message) from None
    if root is None:
        raise error.at(path, 1, "the file is empty")
    if not isinstance(root, Located):
        raise error.at(path, 1, "the file must be a mapping of keys to values")
    return root
