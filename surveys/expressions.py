"""XLSForm expressions (an XPath 1.0 subset): a parser and an evaluator, without ``eval``.

Surveys use expressions for ``relevant``, ``constraint``, ``calculation``, ``choice_filter``,
``required_if`` and a survey's ``audience``. :func:`parse` turns the text into an
:class:`Expression` (or raises :class:`ExpressionError` with the 1-based column of the problem);
:func:`evaluate` computes it against an :class:`Environment` of stored answers.

Grammar, loosest binding first::

    expression := or
    or         := and ('or' and)*
    and        := equality ('and' equality)*
    equality   := relation (('=' | '!=') relation)*
    relation   := sum (('<' | '<=' | '>' | '>=') sum)*
    sum        := product (('+' | '-') product)*
    product    := unary (('*' | 'div' | 'mod') unary)*
    unary      := '-'* primary
    primary    := number | string | '${' name '}' | '.' | bare-name | function '(' arguments? ')'
                | '(' expression ')'

Keywords (``and or div mod``) are lowercase. ``${name}`` names follow XLSForm question names
(a letter or ``_``, then letters, digits, ``_ - .``); function names may contain ``-``
(``count-selected``); a bare name (letters, digits, ``_``) is a column of the choice being
filtered by a ``choice_filter``. Strings are in single or double quotes, without escapes.

Values (:data:`Value`) are ``str``, :class:`~decimal.Decimal` (numbers, with ``Decimal('NaN')``
for XPath's NaN), ``bool`` and :class:`datetime.date`. Answers are strings, as stored; an
unanswered question is the empty string. Semantics follow XPath 1.0 and ODK where they agree,
leniently: a value that is not a number (the empty string, say) becomes NaN in arithmetic, and
every comparison involving NaN is false (so ``${age} >= 18`` is false when age is unanswered).

* Conversions. number(): numbers as is; true/false are 1/0; a string is a number if it is one in
  plain decimal notation (``-3.5``, ``.5``; surrounding whitespace ignored), the day count since
  1970-01-01 if it is an ISO date (``YYYY-MM-DD``), NaN otherwise; a date is its day count.
  string(): integral numbers without a decimal point (``3``), others in plain notation without
  trailing zeros (``2.5``), NaN as ``NaN``, infinities as ``Infinity``/``-Infinity``; booleans
  ``true``/``false``; dates ISO. boolean(): numbers true unless zero or NaN, strings true unless
  empty, dates true.
* ``=`` and ``!=`` (``!=`` is always the negation of ``=``): with a boolean on either side, both
  sides are compared as booleans, where the strings ``"true"``/``"false"`` (how calculations
  store booleans) and numeric strings read as their value and any other string is true unless
  empty; otherwise with a date on either side, as dates (a string must be an ISO date, a number
  is a day count); otherwise with a number on either side, as numbers (NaN equals nothing);
  otherwise (two strings) as strings, so choice names ``01`` and ``1`` differ.
* ``< <= > >=`` compare numbers (after number()); dates and ISO-date strings are day counts, so
  ``${d} < today()`` works; anything else is NaN, so the comparison is false.
* Arithmetic is exact decimal arithmetic (28 significant digits; results beyond ±1E+1000
  become infinite). ``div`` or ``mod`` by zero is NaN (XPath would give an infinity for ``div``).
  ``mod`` takes the sign of the dividend. Dates in arithmetic are day counts: ``today() - ${d}``
  is a number of days, and ``today() + 7`` is the day count of a week later (a number, as in
  XPath; ``date(today() + 7)`` makes it a date again).
* Functions: ``selected(list, value)``, ``count-selected(list)``, ``selected-at(list, n)``
  (0-based, ``""`` out of range), ``string-length(s)``, ``today()``, ``if(c, a, b)`` (evaluates
  only the branch taken), ``coalesce(a, b)`` (``a`` unless its string is empty), ``not(x)``,
  ``concat(a, ...)``, ``contains(s, t)``, ``starts-with(s, t)``, ``regex(s, 'pattern')``,
  ``int(x)`` (towards zero), ``round(x, digits?)`` (halves away from zero, as ODK),
  ``number(x)``, ``string(x)``, ``boolean(x)``, ``true()``, ``false()``, ``date(x)`` (an ISO
  date string or a day count to a date; ``""`` when ``x`` is neither).
* Repeats: ``count(${q})`` is the number of passes of the repeat ``q`` is in (or of the
  repeat ``${q}`` itself), ``sum(${q})``, ``max(${q})`` and ``min(${q})`` combine ``q``'s values
  over the passes (unanswered ones left out; NaN when a value is not a number; ``max``/``min``
  of nothing is NaN, ``sum`` 0); ``max``/``min`` of several arguments take the largest/smallest.
  ``position(..)`` is the number of the pass being answered (1, 2, ...);
  ``indexed-repeat(${q}, ${repeat}, i)`` is ``q``'s value in pass ``i`` (nested repeats: more
  ``${repeat}, i`` pairs, outermost first; a pair left out is the current pass). Inside a pass,
  ``${q}`` of a question of the same repeat is its value in that pass. What passes there are is
  told by the :class:`Environment`'s ``scope`` (:mod:`surveys.repeats`); without one these
  functions see single values.
* ``regex(s, pattern)`` searches ``s`` (Python :func:`re.search`, as ODK's ``find()``; anchor
  with ``^...$`` to match the whole answer). The pattern must be a quoted string, checked when
  parsing: at most 200 characters, valid, and not repeating a group that contains a repetition
  (``(a+)+``, exponential backtracking) unless the group is atomic ``(?>...)`` or the repetition
  possessive (``a++``). Against polynomial backtracking (``\\d*\\d*\\d*x``) a text is only
  tried if it is short enough for the pattern's number of long repetitions (about 0.2 s at
  worst: any length up to 10,000 with none, 6,324 with one, 493 with two, 148 with three...);
  longer texts do not match.

Limits against hostile input: at most 2,000 characters and 50 levels of nesting (of parentheses,
function calls and minus signs in the text, and of operations in the syntax tree, where a chain
like ``a + b - c`` is one level however long); nothing recurses deeper than that, and evaluation
never raises.
"""

from __future__ import annotations

import functools
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from typing import NamedTuple, Protocol, TypeAlias

import regex

from common.errors import BarazaError

__all__ = [
    "MAX_LENGTH",
    "MAX_NESTING",
    "ChoiceColumn",
    "CurrentValue",
    "Environment",
    "Expression",
    "ExpressionError",
    "FunctionCall",
    "Negation",
    "Node",
    "NumberLiteral",
    "Operation",
    "ParentStep",
    "Reference",
    "RepeatScope",
    "StringLiteral",
    "Value",
    "evaluate",
    "evaluate_bool",
    "evaluate_string",
    "parse",
    "unparse",
]

MAX_LENGTH = 2000
"""Longest expression text accepted by :func:`parse`."""
MAX_NESTING = 50
"""Deepest nesting accepted by :func:`parse`: of parentheses, function calls and minus signs in
the text, and of operations in the syntax tree (``a + b * c`` is 2 deep, ``a + b + c`` 1)."""
MAX_PATTERN_LENGTH = 200
MAX_REGEX_INPUT = 10_000

Value: TypeAlias = str | Decimal | bool | date
"""What an expression evaluates to: a string, a number (``Decimal``, possibly NaN), a boolean or a date."""

EPOCH = date(1970, 1, 1)
NAN = Decimal("NaN")


class ExpressionError(BarazaError):
    """A problem in an expression, at ``column`` (1-based) of its text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


# --- Syntax tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    """Where a node starts in the source (1-based ``column``); it takes no part in equality, so two
    trees compare equal when they mean the same thing wherever they were written."""

    column: int = field(default=1, compare=False, kw_only=True)


@dataclass(frozen=True)
class NumberLiteral(_Placed):
    """A number written in the expression: ``12``, ``3.5``, ``.5``."""

    value: Decimal


@dataclass(frozen=True)
class StringLiteral(_Placed):
    """A quoted string; ``value`` is without its quotes."""

    value: str


@dataclass(frozen=True)
class _Named(_Placed):
    """A node that stands for a named value."""

    name: str


@dataclass(frozen=True)
class Reference(_Named):
    """``${name}``: the stored answer to question ``name``."""


@dataclass(frozen=True)
class CurrentValue(_Placed):
    """``.``: the answer being checked (in a constraint)."""


@dataclass(frozen=True)
class ChoiceColumn(_Named):
    """A bare name: a column of the choice being filtered (``region`` in ``region = ${region}``)."""


@dataclass(frozen=True)
class ParentStep(_Placed):
    """``..``: the parent node, as in ``position(..)`` (the number of the current repeat pass)."""


@dataclass(frozen=True)
class Negation(_Placed):
    """Unary minus."""

    operand: Node


@dataclass(frozen=True)
class Operation:
    """Operands joined by operators of one precedence level, applied left to right.

    ``a - b + c`` is ``Operation((a, b, c), ("-", "+"))``; a chain is one flat node however long
    it is. ``operator_columns`` are where the operators are written.
    """

    operands: tuple[Node, ...]
    operators: tuple[str, ...]
    operator_columns: tuple[int, ...] = field(default=(), compare=False)

    @property
    def column(self) -> int:
        return self.operands[0].column


@dataclass(frozen=True)
class FunctionCall(_Placed):
    """``name(arguments...)``; ``column`` is that of the name."""

    name: str
    arguments: tuple[Node, ...]


Node: TypeAlias = (
    NumberLiteral
    | StringLiteral
    | Reference
    | CurrentValue
    | ParentStep
    | ChoiceColumn
    | Negation
    | Operation
    | FunctionCall
)
"""A node of the syntax tree."""


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Negation):
        return (node.operand,)
    if isinstance(node, Operation):
        return node.operands
    if isinstance(node, FunctionCall):
        return node.arguments
    return ()


def _walk(root: Node) -> Iterator[Node]:
    """Every node of the tree, in source order."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(_children(node)))


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its ``source`` text and the ``root`` of its syntax tree."""

    source: str
    root: Node

    def references(self) -> frozenset[str]:
        """The question names used as ``${name}``."""
        return frozenset(node.name for node in _walk(self.root) if isinstance(node, Reference))

    def reference_columns(self) -> dict[str, int]:
        """Each referenced name with the column of its first ``${name}``, in source order."""
        columns: dict[str, int] = {}
        for node in _walk(self.root):
            if isinstance(node, Reference) and (node.name not in columns or node.column < columns[node.name]):
                columns[node.name] = node.column
        return dict(sorted(columns.items(), key=lambda item: item[1]))

    def uses_current(self) -> bool:
        """Whether ``.`` (the answer being checked) appears."""
        return any(isinstance(node, CurrentValue) for node in _walk(self.root))

    def data_files(self) -> frozenset[str]:
        """The data files ``pulldata('file', ...)`` reads (its first argument, when a quoted string)."""
        return frozenset(
            node.arguments[0].value
            for node in _walk(self.root)
            if isinstance(node, FunctionCall)
            and node.name == "pulldata"
            and node.arguments
            and isinstance(node.arguments[0], StringLiteral)
        )

    def data_file_questions(self) -> frozenset[str]:
        """The questions whose answer names the file of ``pulldata(${q}, ...)`` (one file per answer)."""
        return frozenset(
            node.arguments[0].name
            for node in _walk(self.root)
            if isinstance(node, FunctionCall)
            and node.name == "pulldata"
            and node.arguments
            and isinstance(node.arguments[0], Reference)
        )

    def bare_names(self) -> frozenset[str]:
        """The bare names: choice columns, meaningful in a ``choice_filter`` only."""
        return frozenset(node.name for node in _walk(self.root) if isinstance(node, ChoiceColumn))


# --- Tokens -----------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # number string reference dot name function symbol end
    text: str  # as written (strings with their quotes)
    column: int
    value: str = ""  # a string's content, a reference's name


_REFERENCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_FUNCTION_NAME = re.compile(r"(?:jr:)?[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*")
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_LITERAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SYMBOLS = ("!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "(", ")", ",")
_KEYWORDS = frozenset({"and", "or", "div", "mod"})
_LEVELS = {
    "or": 1,
    "and": 2,
    "=": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "div": 6,
    "mod": 6,
}


def _is_name_start(char: str) -> bool:
    return char == "_" or ("a" <= char <= "z") or ("A" <= char <= "Z")


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    length = len(text)
    i = 0
    while i < length:
        char = text[i]
        column = i + 1
        if char.isspace():
            i += 1
        elif _is_digit(char) or (char == "." and i + 1 < length and _is_digit(text[i + 1])):
            match = _NUMBER_LITERAL.match(text, i)
            assert match is not None
            tokens.append(_Token("number", match.group(), column))
            i = match.end()
        elif char == ".":
            tokens.append(_Token("dot", ".", column))
            i += 1
        elif char in "'\"":
            end = text.find(char, i + 1)
            if end < 0:
                raise ExpressionError("unterminated string", column)
            tokens.append(_Token("string", text[i : end + 1], column, text[i + 1 : end]))
            i = end + 1
        elif char == "$":
            i = _reference(text, i, tokens)
        elif _is_name_start(char):
            match = _FUNCTION_NAME.match(text, i)
            assert match is not None
            after = match.end()
            while after < length and text[after].isspace():
                after += 1
            if after < length and text[after] == "(":
                tokens.append(_Token("function", match.group(), column))
                i = match.end()
            else:
                match = _BARE_NAME.match(text, i)
                assert match is not None
                tokens.append(_Token("name", match.group(), column))
                i = match.end()
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if symbol is None:
                raise ExpressionError(f"unexpected character {char!r}", column)
            tokens.append(_Token("symbol", symbol, column))
            i += len(symbol)
    tokens.append(_Token("end", "", length + 1))
    return tokens


def _reference(text: str, start: int, tokens: list[_Token]) -> int:
    """Read ``${name}`` at ``start`` into ``tokens``; returns the index after it."""
    column = start + 1
    if not text.startswith("${", start):
        raise ExpressionError("unexpected character '$' (a reference is written ${name})", column)
    i = start + 2
    if i >= len(text):
        raise ExpressionError("unterminated '${'", column)
    if text[i] == "}":
        raise ExpressionError("empty reference '${}'", column)
    match = _REFERENCE_NAME.match(text, i)
    if match is None:
        raise ExpressionError(f"a question name must start with a letter or '_', not {text[i]!r}", i + 1)
    end = match.end()
    if end >= len(text):
        raise ExpressionError("unterminated '${'", column)
    if text[end] != "}":
        raise ExpressionError(f"expected '}}' to close the '${{' at column {column}, found {text[end]!r}", end + 1)
    tokens.append(_Token("reference", text[start : end + 1], column, match.group()))
    return end + 1


# --- Parser -----------------------------------------------------------------------------------

# name -> (fewest, most) arguments; None: no upper limit.
_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2),
    "count-selected": (1, 1),
    "selected-at": (2, 2),
    "string-length": (1, 1),
    "today": (0, 0),
    "if": (3, 3),
    "coalesce": (2, 2),
    "not": (1, 1),
    "concat": (1, None),
    "contains": (2, 2),
    "starts-with": (2, 2),
    "regex": (2, 2),
    "int": (1, 1),
    "round": (1, 2),
    "number": (1, 1),
    "string": (1, 1),
    "boolean": (1, 1),
    "true": (0, 0),
    "false": (0, 0),
    "date": (1, 1),
    # Maths (ODK's XPath extensions)
    "sqrt": (1, 1),
    "pow": (2, 2),
    "exp": (1, 1),
    "exp10": (1, 1),
    "log": (1, 1),
    "log10": (1, 1),
    "abs": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
    "sin": (1, 1),
    "cos": (1, 1),
    "tan": (1, 1),
    "asin": (1, 1),
    "acos": (1, 1),
    "atan": (1, 1),
    "atan2": (2, 2),
    "pi": (0, 0),
    "max": (1, None),
    "min": (1, None),
    "random": (0, 0),
    # Strings
    "substr": (2, 3),
    "substring": (2, 3),
    "substring-before": (2, 2),
    "substring-after": (2, 2),
    "ends-with": (2, 2),
    "normalize-space": (1, 1),
    "translate": (3, 3),
    "join": (2, None),
    "boolean-from-string": (1, 1),
    "uuid": (0, 1),
    # Dates and times
    "now": (0, 0),
    "format-date": (2, 2),
    "format-date-time": (2, 2),
    "decimal-date-time": (1, 1),
    "decimal-time": (1, 1),
    "date-time": (1, 1),
    # Choices and the question's own value
    "jr:choice-name": (2, 2),
    "once": (1, 1),
    # pulldata('file', 'column', 'key column', key): a value from a CSV file beside the survey.
    "pulldata": (4, 4),
    # Repeats (evaluated with the environment's scope).
    "count": (1, 1),
    "sum": (1, 1),
    "position": (1, 1),
    "indexed-repeat": (3, 7),
}


def _arity(fewest: int, most: int | None) -> str:
    def arguments(count: int) -> str:
        return "1 argument" if count == 1 else f"{count} arguments"

    if most is None:
        return f"at least {arguments(fewest)}"
    if most == 0:
        return "no arguments"
    if fewest == most:
        return arguments(fewest)
    return f"{fewest} or {arguments(most)}" if most == fewest + 1 else f"{fewest} to {arguments(most)}"


def _describe(token: _Token) -> str:
    return "the end of the expression" if token.kind == "end" else repr(token.text)


_Parsed: TypeAlias = tuple[Node, int]  # a node and the depth of its tree (leaves: 0)


def _too_deep(column: int) -> ExpressionError:
    return ExpressionError(f"expression nested deeper than {MAX_NESTING} levels", column)


class _Parser:
    """Recursive descent over the tokens, bounded by :data:`MAX_NESTING` in two ways: ``nesting``
    counts the parentheses, function calls and minus signs around a point of the text, and no
    tree is deeper than :data:`MAX_NESTING` (``depth``), so nothing that walks it recursively
    (evaluation, equality, ``repr``) goes deeper either."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.position]

    def advance(self) -> _Token:
        token = self.tokens[self.position]
        if token.kind != "end":
            self.position += 1
        return token

    def parent_step(self) -> bool:
        """Whether ``..`` (two dots written together) comes next: only ``position(..)`` has it."""
        first, second = self.token, self.tokens[min(self.position + 1, len(self.tokens) - 1)]
        return first.kind == "dot" and second.kind == "dot" and second.column == first.column + 1

    def is_symbol(self, symbol: str) -> bool:
        return self.token.kind == "symbol" and self.token.text == symbol

    def parse(self) -> Node:
        root, _ = self.expression(0)
        if self.token.kind != "end":
            raise ExpressionError(f"unexpected {_describe(self.token)}", self.token.column)
        return root

    def binary_operator(self) -> str | None:
        token = self.token
        if token.kind == "symbol" and token.text in _LEVELS:
            return token.text
        if token.kind in ("name", "function") and token.text in _KEYWORDS:
            return token.text
        return None

    def expression(self, nesting: int) -> _Parsed:
        """Binary operators by precedence (shunting-yard: no recursion per precedence level)."""
        operands = [self.unary(nesting)]
        pending: list[tuple[str, int]] = []
        while (operator := self.binary_operator()) is not None:
            column = self.advance().column
            while pending and _LEVELS[pending[-1][0]] >= _LEVELS[operator]:
                _reduce(operands, pending)
            pending.append((operator, column))
            operands.append(self.unary(nesting))
        while pending:
            _reduce(operands, pending)
        return operands[0]

    def unary(self, nesting: int) -> _Parsed:
        minuses: list[int] = []
        while self.is_symbol("-"):
            column = self.advance().column
            nesting += 1
            if nesting > MAX_NESTING:
                raise _too_deep(column)
            minuses.append(column)
        node, depth = self.primary(nesting)
        for column in reversed(minuses):
            node, depth = Negation(node, column=column), depth + 1
            if depth > MAX_NESTING:
                raise _too_deep(column)
        return node, depth

    def primary(self, nesting: int) -> _Parsed:
        token = self.token
        if token.kind == "number":
            self.advance()
            return NumberLiteral(Decimal(token.text), column=token.column), 0
        if token.kind == "string":
            self.advance()
            return StringLiteral(token.value, column=token.column), 0
        if token.kind == "reference":
            self.advance()
            return Reference(token.value, column=token.column), 0
        if token.kind == "dot":
            self.advance()
            return CurrentValue(column=token.column), 0
        if token.kind == "name" and token.text not in _KEYWORDS:
            self.advance()
            return ChoiceColumn(token.text, column=token.column), 0
        if token.kind == "function":
            return self.call(nesting)
        if self.is_symbol("("):
            self.advance()
            if nesting + 1 > MAX_NESTING:
                raise _too_deep(token.column)
            parsed = self.expression(nesting + 1)
            if not self.is_symbol(")"):
                raise ExpressionError(
                    f"expected ')' to close the '(' at column {token.column}, found {_describe(self.token)}",
                    self.token.column,
                )
            self.advance()
            return parsed
        raise ExpressionError(f"expected a value, found {_describe(token)}", token.column)

    def call(self, nesting: int) -> _Parsed:
        name_token = self.advance()
        name, column = name_token.text, name_token.column
        if name not in _FUNCTIONS:
            raise ExpressionError(f"unknown function '{name}'", column)
        if nesting + 1 > MAX_NESTING:
            raise _too_deep(column)
        self.advance()  # '(' (the tokenizer saw it)
        arguments: list[Node] = []
        depth = 0
        if name == "position" and self.parent_step():
            arguments.append(ParentStep(column=self.advance().column))
            self.advance()
        if arguments:
            if not self.is_symbol(")"):
                raise ExpressionError(
                    f"expected ')' after position(.., found {_describe(self.token)}", self.token.column
                )
            self.advance()
        elif self.is_symbol(")"):
            self.advance()
        else:
            while True:
                argument, argument_depth = self.expression(nesting + 1)
                arguments.append(argument)
                depth = max(depth, argument_depth)
                if self.is_symbol(","):
                    self.advance()
                elif self.is_symbol(")"):
                    self.advance()
                    break
                else:
                    raise ExpressionError(
                        f"expected ',' or ')' in the arguments of {name}(), found {_describe(self.token)}",
                        self.token.column,
                    )
        fewest, most = _FUNCTIONS[name]
        if len(arguments) < fewest or (most is not None and len(arguments) > most):
            raise ExpressionError(f"{name}() takes {_arity(fewest, most)}, not {len(arguments)}", column)
        if name == "regex":
            _check_pattern(arguments[1])
        if name == "indexed-repeat":
            _check_indexed_repeat(arguments, column)
        if depth + 1 > MAX_NESTING:
            raise _too_deep(column)
        return FunctionCall(name, tuple(arguments), column=column), depth + 1


def _check_indexed_repeat(arguments: list[Node], column: int) -> None:
    """``indexed-repeat(${q}, ${repeat}, i [, ${repeat2}, i2 ...])``: names, then (repeat, index) pairs."""
    if len(arguments) % 2 == 0:
        raise ExpressionError("indexed-repeat() takes a question, then pairs of a repeat and a pass number", column)
    for position in (0, *range(1, len(arguments), 2)):
        if not isinstance(arguments[position], Reference):
            what = "its first argument" if position == 0 else f"argument {position + 1}"
            raise ExpressionError(f"indexed-repeat() needs ${{name}} as {what}", arguments[position].column)


def _reduce(operands: list[_Parsed], pending: list[tuple[str, int]]) -> None:
    """Join the last two operands with the last pending operator, extending a chain of its level."""
    operator, column = pending.pop()
    right, right_depth = operands.pop()
    left, left_depth = operands.pop()
    if isinstance(left, Operation) and _LEVELS[left.operators[0]] == _LEVELS[operator]:
        node = Operation((*left.operands, right), (*left.operators, operator), (*left.operator_columns, column))
        depth = max(left_depth, right_depth + 1)
    else:
        node = Operation((left, right), (operator,), (column,))
        depth = max(left_depth, right_depth) + 1
    if depth > MAX_NESTING:
        raise _too_deep(column)
    operands.append((node, depth))


def _check_pattern(node: Node) -> None:
    if not isinstance(node, StringLiteral):
        raise ExpressionError("regex() needs its pattern as a quoted string", node.column)
    pattern = node.value
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ExpressionError(f"regex() pattern longer than {MAX_PATTERN_LENGTH} characters", node.column)
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as error:
        raise ExpressionError(f"invalid regex() pattern: {error}", node.column) from None
    if _pattern_shape(pattern)[0]:
        try:  # run by the `regex` engine with a time limit (see _nested_search): it must compile there too
            regex.compile(pattern)
        except (regex.error, OverflowError, RecursionError, ValueError) as error:
            raise ExpressionError(f"invalid regex() pattern: {error}", node.column) from None


#: The time a pattern that repeats a group containing a repetition (``(a+)+``) may take on one answer.
NESTED_REGEX_SECONDS = 0.2


@functools.lru_cache(maxsize=512)
def _nested(pattern: str) -> bool:
    return _pattern_shape(pattern)[0]


def _nested_search(pattern: str, text: str) -> bool:
    """A pattern whose backtracking can be exponential (ODK forms have them: phone numbers as
    ``^(([0-9])*[- .(]*...)+$``), searched by the ``regex`` engine with a time limit: an answer
    that takes longer does not match (the person is told the constraint's message, not kept waiting)."""
    try:
        return regex.search(pattern, text, timeout=NESTED_REGEX_SECONDS) is not None
    except TimeoutError:
        return False


_BRACES = re.compile(r"\{([0-9]*)(,([0-9]*))?\}")


def _repetition(pattern: str, i: int) -> tuple[int, int | None, int] | None:
    """The repetition (fewest, most or None, index after it) written at ``i``, if any."""
    char = pattern[i]
    if char == "*":
        return 0, None, i + 1
    if char == "+":
        return 1, None, i + 1
    if char == "?":
        return 0, 1, i + 1
    if char == "{":
        match = _BRACES.match(pattern, i)
        if match is None or (not match[1] and not match[2]):
            return None
        fewest = int(match[1] or "0")
        if match[2] is None:
            return fewest, fewest, match.end()
        return fewest, (int(match[3]) if match[3] else None), match.end()
    return None


def _skip_class(pattern: str, i: int) -> int:
    """The index after the character class ``[...]`` starting at ``i``."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _pattern_shape(pattern: str) -> tuple[bool, int]:
    """How a (valid) pattern can backtrack: whether it repeats a group containing a variable
    repetition (``(a+)+``, ``(\\w*x)*``: exponential), and how many long repetitions it has
    (``*``, ``+``, ``{n,}``, ``{n,m}`` with m - n >= 10: each multiplies the worst case by the
    text's length). Atomic groups ``(?>...)`` and possessive repetitions (``a++``) do not backtrack
    and count for neither.
    """
    variable = [False]  # per open group: whether it contains a variable-length repetition
    atomic = [False]
    closed_group = False  # whether the atom just read is a group containing one
    degree = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            closed_group = False
        elif char == "[":
            i = _skip_class(pattern, i)
            closed_group = False
        elif char == "(":
            variable.append(False)
            atomic.append(pattern.startswith("(?>", i))
            i += 3 if atomic[-1] else 2 if pattern.startswith("(?", i) else 1
            closed_group = False
        elif char == ")":
            inner = False
            if len(variable) > 1:
                inner = variable.pop() and not atomic.pop()
            variable[-1] = variable[-1] or inner
            closed_group = inner
            i += 1
        elif (repetition := _repetition(pattern, i)) is not None:
            fewest, most, i = repetition
            possessive = pattern.startswith("+", i)
            if i < len(pattern) and pattern[i] in "+?":  # possessive or lazy
                i += 1
            if not possessive:
                if closed_group and (most is None or most > 1):
                    return True, degree
                if most is None or most > max(fewest, 1):
                    variable[-1] = True
                if most is None or most - fewest >= 10:
                    degree += 1
            closed_group = False
        else:
            closed_group = False
            i += 1
    return False, degree


_REGEX_STEPS = 20_000_000  # worst-case backtracking steps allowed, about 0.2 s


@functools.lru_cache(maxsize=512)
def _regex_input_limit(pattern: str) -> int:
    """The longest text ``pattern`` is tried on: with d long repetitions, a search can take about
    n**(d+1) / (d+1)! steps on a text of length n; keep that within :data:`_REGEX_STEPS`."""
    power = _pattern_shape(pattern)[1] + 1
    limit = int((_REGEX_STEPS * math.factorial(power)) ** (1 / power))
    return min(MAX_REGEX_INPUT, limit)


def parse(text: str) -> Expression:
    """Parse an XLSForm expression; raises :class:`ExpressionError` (never anything else)."""
    if not isinstance(text, str):
        raise ExpressionError("an expression must be text", 1)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    tokens = _tokenize(text)
    if tokens[0].kind == "end":
        raise ExpressionError("empty expression", 1)
    try:
        root = _Parser(tokens).parse()
    except RecursionError:  # only if the caller's stack is already nearly full
        raise ExpressionError("expression too deeply nested", 1) from None
    return Expression(text, root)


# --- Unparsing --------------------------------------------------------------------------------


def _quote(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    parts = text.split("'")
    pieces = [_quote(part) for part in parts]
    return "concat(" + ', "\'", '.join(pieces) + ")"


def unparse(node: Node) -> str:
    """Expression text for a syntax tree, with only the parentheses it needs.

    ``parse(unparse(node)).root == node`` for every tree :func:`parse` builds, except that a
    string containing both kinds of quote is written with ``concat()`` (XPath has no escapes).
    """
    if isinstance(node, NumberLiteral):
        return format(node.value, "f")
    if isinstance(node, StringLiteral):
        return _quote(node.value)
    if isinstance(node, Reference):
        return "${" + node.name + "}"
    if isinstance(node, CurrentValue):
        return "."
    if isinstance(node, ParentStep):
        return ".."
    if isinstance(node, ChoiceColumn):
        return node.name
    if isinstance(node, Negation):
        inner = unparse(node.operand)
        return "-(" + inner + ")" if isinstance(node.operand, Operation) else "-" + inner
    if isinstance(node, FunctionCall):
        return node.name + "(" + ", ".join(unparse(argument) for argument in node.arguments) + ")"
    level = _LEVELS[node.operators[0]]
    parts: list[str] = []
    for index, operand in enumerate(node.operands):
        text = unparse(operand)
        if isinstance(operand, Operation):
            inner_level = _LEVELS[operand.operators[0]]
            if inner_level < level or (index > 0 and inner_level == level):
                text = "(" + text + ")"
        if index > 0:
            parts.append(node.operators[index - 1])
        parts.append(text)
    return " ".join(parts)


# --- Evaluation -------------------------------------------------------------------------------


class RepeatScope(Protocol):
    """The passes of a survey's repeats, as seen from where an expression is evaluated
    (implemented by :mod:`surveys.repeats`)."""

    def instances(self, name: str) -> tuple[str | None, ...] | None:
        """The values of question ``name`` in each pass of its repeat (for the repeat ``name``
        itself, one entry per pass), or None when ``name`` is in no repeat."""

    def position(self) -> int | None:
        """The number of the innermost pass being answered (1-based), None outside repeats."""

    def indexed(self, name: str, passes: tuple[tuple[str, int], ...]) -> str | None:
        """The value of ``name`` in the given (repeat, pass number) passes."""


@dataclass(frozen=True)
class Environment:
    """What an expression is evaluated against.

    ``answers``: stored answers by question name (missing or None: the empty string);
    ``current``: the value of ``.``; ``today``: the value of ``today()``; ``choice``: the columns
    of the choice being filtered, which bare names read (a missing column, or no choice, is ``""``);
    ``scope``: the repeats' passes, for ``count()``, ``sum()``, ``position(..)``...
    """

    answers: Mapping[str, str | None]
    current: str | None = None
    today: date = field(default_factory=date.today)
    choice: Mapping[str, str] | None = None
    #: ``now()``: when the expression is evaluated (the caller's clock; by default the system's).
    now: datetime | None = None
    #: ``jr:choice-name(value, '${q}')``: question name -> choice name -> label (in the survey's language).
    choice_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: ``once(x)``: the value the question being computed already has (x only while it has none).
    own: str | None = None
    scope: RepeatScope | None = None
    #: ``pulldata('file', ...)``: the rows of each data file (``file.csv`` beside the survey), by file name.
    tables: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)


_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MAX_DAY_COUNT = 4_000_000  # beyond date.max, whatever the sign


def _context() -> Context:
    """Decimal arithmetic that never raises: invalid operations give NaN, overflows infinities."""
    return Context(prec=28, rounding=ROUND_HALF_EVEN, Emin=-999, Emax=999, traps=[])


def _iso_date(text: str) -> date | None:
    match = _ISO_DATE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _day_count(value: date) -> Decimal:
    return Decimal((value - EPOCH).days)


def _date_from_day_count(number: Decimal) -> date | None:
    if not number.is_finite() or not -_MAX_DAY_COUNT <= number <= _MAX_DAY_COUNT:
        return None
    ordinal = EPOCH.toordinal() + int(number.to_integral_value(rounding=ROUND_FLOOR, context=_context()))
    if not 1 <= ordinal <= date.max.toordinal():
        return None
    return date.fromordinal(ordinal)


def _to_number(value: Value) -> Decimal:
    """XPath number(), extended to dates and ISO-date strings (their day counts)."""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, date):
        return _day_count(value)
    text = value.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        return Decimal(text)
    as_date = _iso_date(text)
    return _day_count(as_date) if as_date is not None else NAN


def _format_number(number: Decimal) -> str:
    if number.is_nan():
        return "NaN"
    if number.is_infinite():
        return "-Infinity" if number < 0 else "Infinity"
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _to_string(value: Value) -> str:
    """XPath string()."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _format_number(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _to_bool(value: Value) -> bool:
    """XPath boolean()."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return not value.is_nan() and value != 0
    if isinstance(value, date):
        return True
    return value != ""


def _loose_bool(value: Value) -> bool:
    """A value compared with a boolean: like boolean(), but "false" and "0" are false."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("true", "false"):
            return text == "true"
        if _PLAIN_NUMBER.fullmatch(text):
            return Decimal(text) != 0
    return _to_bool(value)


def _equal(left: Value, right: Value) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _loose_bool(left) == _loose_bool(right)
    if isinstance(left, date) or isinstance(right, date):
        if isinstance(left, date) and isinstance(right, date):
            return left == right
        day, other = (left, right) if isinstance(left, date) else (right, left)
        assert isinstance(day, date)
        if isinstance(other, str):
            return _iso_date(other) == day
        return _numbers_equal(_day_count(day), _to_number(other))
    if isinstance(left, Decimal) or isinstance(right, Decimal):
        return _numbers_equal(_to_number(left), _to_number(right))
    return left == right


def _numbers_equal(left: Decimal, right: Decimal) -> bool:
    return not left.is_nan() and not right.is_nan() and left == right


def _compare(operator: str, left: Value, right: Value) -> bool:
    x, y = _to_number(left), _to_number(right)
    if x.is_nan() or y.is_nan():
        return False
    if operator == "<":
        return x < y
    if operator == "<=":
        return x <= y
    if operator == ">":
        return x > y
    return x >= y


class _Evaluator:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.context = _context()

    def value(self, node: Node) -> Value:
        if isinstance(node, NumberLiteral):
            return node.value
        if isinstance(node, StringLiteral):
            return node.value
        if isinstance(node, Reference):
            answer = self.environment.answers.get(node.name)
            return answer if isinstance(answer, str) else ""
        if isinstance(node, CurrentValue):
            current = self.environment.current
            return current if isinstance(current, str) else ""
        if isinstance(node, ParentStep):
            return ""
        if isinstance(node, ChoiceColumn):
            choice = self.environment.choice
            column = choice.get(node.name) if choice is not None else None
            return column if isinstance(column, str) else ""
        if isinstance(node, Negation):
            return self.context.minus(_to_number(self.value(node.operand)))
        if isinstance(node, Operation):
            return self.operation(node)
        return self.call(node)

    def operation(self, node: Operation) -> Value:
        operator = node.operators[0]
        if operator == "or":
            return any(_to_bool(self.value(operand)) for operand in node.operands)
        if operator == "and":
            return all(_to_bool(self.value(operand)) for operand in node.operands)
        result = self.value(node.operands[0])
        for operator, operand in zip(node.operators, node.operands[1:], strict=True):
            result = self.apply(operator, result, self.value(operand))
        return result

    def apply(self, operator: str, left: Value, right: Value) -> Value:
        if operator == "=":
            return _equal(left, right)
        if operator == "!=":
            return not _equal(left, right)
        if operator in ("<", "<=", ">", ">="):
            return _compare(operator, left, right)
        x, y = _to_number(left), _to_number(right)
        context = self.context
        if operator == "+":
            return context.add(x, y)
        if operator == "-":
            return context.subtract(x, y)
        if operator == "*":
            return context.multiply(x, y)
        if y.is_zero():
            return NAN
        if operator == "div":
            return context.divide(x, y)
        return _remainder(x, y)

    def call(self, node: FunctionCall) -> Value:
        name, arguments = node.name, node.arguments
        if name == "if":
            return self.value(arguments[1] if _to_bool(self.value(arguments[0])) else arguments[2])
        if name == "coalesce":
            first = self.value(arguments[0])
            return first if _to_string(first) != "" else self.value(arguments[1])
        if name == "today":
            return self.environment.today
        if name == "once":
            own = self.environment.own
            return own if own else self.value(arguments[0])
        if name == "true":
            return True
        if name == "false":
            return False
        if name in _REPEAT_FUNCTIONS:
            return self.repeat_call(name, arguments)
        values = [self.value(argument) for argument in arguments]
        if name == "selected":
            return _to_string(values[1]).strip() in _to_string(values[0]).split()
        if name == "count-selected":
            return Decimal(len(_to_string(values[0]).split()))
        if name == "selected-at":
            return _selected_at(_to_string(values[0]), _to_number(values[1]))
        if name == "string-length":
            return Decimal(len(_to_string(values[0])))
        if name == "not":
            return not _to_bool(values[0])
        if name == "boolean":
            return _to_bool(values[0])
        if name == "concat":
            return "".join(_to_string(value) for value in values)
        if name == "contains":
            return _to_string(values[1]) in _to_string(values[0])
        if name == "starts-with":
            return _to_string(values[0]).startswith(_to_string(values[1]))
        if name == "regex":
            text = _to_string(values[0])
            pattern = _to_string(values[1])
            if len(text) > MAX_REGEX_INPUT:
                return False
            if _nested(pattern):
                return _nested_search(pattern, text)
            return len(text) <= _regex_input_limit(pattern) and re.search(pattern, text) is not None
        if name == "int":
            return _to_number(values[0]).to_integral_value(rounding=ROUND_DOWN, context=self.context)
        if name == "round":
            return _round(_to_number(values[0]), _to_number(values[1]) if len(values) > 1 else Decimal(0))
        if name == "number":
            return _to_number(values[0])
        if name == "string":
            return _to_string(values[0])
        if name == "date":
            return _to_date(values[0])
        extended = self.extended(name, values)
        if extended is not None:
            return extended
        raise AssertionError(f"function {name} is in the table but not evaluated")  # pragma: no cover

    def extended(self, name: str, values: list[Value]) -> Value | None:
        """ODK's functions beyond XPath 1.0's core: maths, strings, dates, choice names."""
        if name in _MATHS:
            return _float_function(name, [_to_number(v) for v in values])
        if name in ("max", "min"):
            numbers = [_to_number(v) for v in values]
            if not numbers or any(n.is_nan() for n in numbers):
                return NAN
            return max(numbers) if name == "max" else min(numbers)
        if name in ("floor", "ceiling"):
            number = _to_number(values[0])
            if not number.is_finite():
                return number
            rounding = ROUND_FLOOR if name == "floor" else ROUND_CEILING
            return number.to_integral_value(rounding=rounding, context=self.context)
        if name == "abs":
            return abs(_to_number(values[0]))
        if name == "random":
            return Decimal(str(_RANDOM.random()))
        if name in ("substr", "substring"):
            return _substring(name, _to_string(values[0]), [_to_number(v) for v in values[1:]])
        if name == "substring-before":
            text, marker = _to_string(values[0]), _to_string(values[1])
            return text.split(marker, 1)[0] if marker and marker in text else ""
        if name == "substring-after":
            text, marker = _to_string(values[0]), _to_string(values[1])
            return text.split(marker, 1)[1] if marker in text else ""
        if name == "ends-with":
            return _to_string(values[0]).endswith(_to_string(values[1]))
        if name == "normalize-space":
            return " ".join(_to_string(values[0]).split())
        if name == "translate":
            source, wanted = _to_string(values[1]), _to_string(values[2])
            table = {ord(c): (wanted[i] if i < len(wanted) else None) for i, c in reversed(list(enumerate(source)))}
            return _to_string(values[0]).translate(table)
        if name == "join":
            separator = _to_string(values[0])
            parts = [_to_string(v) for v in values[1:]]
            if len(parts) == 1:
                parts = parts[0].split()  # a select_multiple answer
            return separator.join(parts)
        if name == "boolean-from-string":
            return _to_string(values[0]).strip() in ("true", "1")
        if name == "uuid":
            return str(uuid.uuid4())
        if name == "now":
            return (self.environment.now or datetime.now(UTC)).replace(microsecond=0).isoformat()
        if name in ("format-date", "format-date-time"):
            moment = _to_datetime(values[0])
            return "" if moment is None else _format_date(moment, _to_string(values[1]))
        if name in ("decimal-date-time", "decimal-time"):
            moment = _to_datetime(values[0])
            if moment is None:
                return NAN
            seconds = Decimal(moment.hour * 3600 + moment.minute * 60 + moment.second) / Decimal(86400)
            if name == "decimal-time":
                return seconds
            return _day_count(moment.date()) + seconds
        if name == "date-time":
            number = _to_number(values[0])
            day = _date_from_day_count(number)
            if day is None:
                return ""
            fraction = number - number.to_integral_value(rounding=ROUND_FLOOR, context=self.context)
            moment = datetime(day.year, day.month, day.day) + timedelta(seconds=round(float(fraction) * 86400))
            return moment.isoformat()
        if name == "pulldata":  # as ODK Collect: the first row whose key column is the key; else ""
            file, column, key_column = (_to_string(value).strip() for value in values[:3])
            key = _to_string(values[3])
            rows = self.environment.tables.get(file.removesuffix(".csv"), ())
            return next((row.get(column, "") for row in rows if row.get(key_column) == key), "")
        if name == "jr:choice-name":
            question = _to_string(values[1]).strip()
            question = question[2:-1] if question.startswith("${") and question.endswith("}") else question
            labels = self.environment.choice_labels.get(question, {})
            value = _to_string(values[0])
            return labels.get(value, "")
        return None

    def repeat_call(self, name: str, arguments: tuple[Node, ...]) -> Value:
        scope = self.environment.scope
        if name == "position":
            where = scope.position() if scope is not None else None
            return NAN if where is None else Decimal(where)
        if name == "indexed-repeat":
            return self.indexed_repeat(arguments)
        nodeset = self.nodeset(arguments[0]) if len(arguments) == 1 else None
        values: tuple[Value, ...] = nodeset if nodeset is not None else tuple(map(self.value, arguments))
        if name == "count":
            return Decimal(len(values))
        numbers = [_to_number(value) for value in values if not (isinstance(value, str) and value == "")]
        if any(number.is_nan() for number in numbers):
            return NAN
        if name == "sum":
            total = Decimal(0)
            for number in numbers:
                total = self.context.add(total, number)
            return total
        if not numbers:
            return NAN
        return max(numbers) if name == "max" else min(numbers)

    def nodeset(self, node: Node) -> tuple[str, ...] | None:
        """A question's values over the passes of its repeat, if ``node`` is ``${question}`` in one."""
        scope = self.environment.scope
        if scope is None or not isinstance(node, Reference):
            return None
        values = scope.instances(node.name)
        return None if values is None else tuple(value or "" for value in values)

    def indexed_repeat(self, arguments: tuple[Node, ...]) -> Value:
        scope = self.environment.scope
        target = arguments[0]
        if scope is None or not isinstance(target, Reference):
            return ""
        passes: list[tuple[str, int]] = []
        for repeat, index in zip(arguments[1::2], arguments[2::2], strict=True):
            number = _to_number(self.value(index))
            if not isinstance(repeat, Reference) or not number.is_finite() or not 1 <= number <= 1_000_000:
                return ""
            passes.append((repeat.name, int(number.to_integral_value(rounding=ROUND_DOWN, context=self.context))))
        return scope.indexed(target.name, tuple(passes)) or ""


_REPEAT_FUNCTIONS = frozenset({"count", "sum", "max", "min", "position", "indexed-repeat"})
_RANDOM = __import__("random").SystemRandom()
_MATHS = {"sqrt", "pow", "exp", "exp10", "log", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "pi"}


def _float_function(name: str, numbers: list[Decimal]) -> Decimal:
    """The maths functions, in floating point as in ODK; a domain error is NaN."""
    floats = [float(n) for n in numbers]
    try:
        if name == "sqrt":
            result = math.sqrt(floats[0])
        elif name == "pow":
            result = math.pow(floats[0], floats[1])
        elif name == "exp":
            result = math.exp(floats[0])
        elif name == "exp10":
            result = math.pow(10, floats[0])
        elif name == "log":
            result = math.log(floats[0])
        elif name == "log10":
            result = math.log10(floats[0])
        elif name == "pi":
            result = math.pi
        elif name == "atan2":
            result = math.atan2(floats[0], floats[1])
        else:
            result = getattr(math, name)(floats[0])
    except (ValueError, OverflowError):
        return NAN
    if math.isnan(result):
        return NAN
    if math.isinf(result):
        return Decimal("Infinity") if result > 0 else Decimal("-Infinity")
    number = Decimal(repr(result))
    return number.to_integral_value() if number == number.to_integral_value() and abs(number) < 10**15 else number


def _substring(name: str, text: str, numbers: list[Decimal]) -> str:
    if any(not n.is_finite() for n in numbers):
        return ""
    if name == "substr":  # ODK: substr(s, start, end), 0-based, end excluded
        start = int(numbers[0])
        end = int(numbers[1]) if len(numbers) > 1 else len(text)
        return text[max(start, 0) : max(end, 0)]
    # XPath 1.0: substring(s, start, length), 1-based with rounding
    start = int(_round(numbers[0], Decimal(0)))
    if len(numbers) == 1:
        return text[max(start - 1, 0) :]
    end = start + int(_round(numbers[1], Decimal(0)))
    return text[max(start - 1, 0) : max(end - 1, 0)]


def _to_datetime(value: Value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, Decimal):
        day = _date_from_day_count(value)
        return None if day is None else datetime(day.year, day.month, day.day)
    if isinstance(value, bool):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        parsed = datetime.strptime(text, "%H:%M:%S")  # a time answer
    except ValueError:
        return None
    return parsed


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _format_date(moment: datetime, pattern: str) -> str:
    """ODK's format-date: %Y %y %m %n %b %d %e %a %H %h %M %S %3; anything else as written."""
    codes = {
        "Y": f"{moment.year:04d}", "y": f"{moment.year % 100:02d}", "m": f"{moment.month:02d}",
        "n": str(moment.month), "b": _MONTHS[moment.month - 1], "d": f"{moment.day:02d}", "e": str(moment.day),
        "a": _DAYS[moment.weekday()], "H": f"{moment.hour:02d}", "h": str(moment.hour),
        "M": f"{moment.minute:02d}", "S": f"{moment.second:02d}", "3": f"{moment.microsecond // 1000:03d}",
    }  # fmt: skip
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "%" and i + 1 < len(pattern) and pattern[i + 1] in codes:
            out.append(codes[pattern[i + 1]])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _remainder(x: Decimal, y: Decimal) -> Decimal:
    """``x mod y``, exactly, with the sign of the dividend (as XPath) however large the quotient."""
    if x.is_finite() and y.is_infinite():
        return x  # as IEEE 754 (and so XPath): 5 mod Infinity = 5
    if not x.is_finite() or not y.is_finite():
        return NAN
    precision = min(max(28, x.adjusted() - y.adjusted() + 30), 6000)
    exact = Context(prec=precision, Emin=-9999, Emax=9999, traps=[])
    return _context().plus(exact.remainder(x, y))


def _selected_at(items: str, index: Decimal) -> str:
    names = items.split()
    if not index.is_finite() or not 0 <= index < len(names):
        return ""
    return names[int(index.to_integral_value(rounding=ROUND_DOWN, context=_context()))]


def _round(number: Decimal, digits: Decimal) -> Decimal:
    """Round to ``digits`` decimal places (negative: tens, hundreds...), halves away from zero."""
    if digits.is_nan() or number.is_nan():
        return NAN
    if number.is_infinite():
        return number
    if not -1000 < digits < 1000:
        places = 999 if digits > 0 else -999
    else:
        places = int(digits.to_integral_value(rounding=ROUND_DOWN, context=_context()))
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= -places:
        return number  # no more decimals than asked for
    precision = max(28, number.adjusted() + places + 2)
    context = Context(prec=precision, rounding=ROUND_HALF_UP, Emin=-2000, Emax=2000, traps=[])
    return number.quantize(Decimal(1).scaleb(-places, context), context=context)


def _to_date(value: Value) -> date | str:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        parsed = _iso_date(value)
    elif isinstance(value, Decimal):
        parsed = _date_from_day_count(value)
    else:
        parsed = None
    return parsed if parsed is not None else ""


def evaluate(expression: Expression, environment: Environment) -> Value:
    """The value of ``expression`` in ``environment`` (see :data:`Value`); never raises but
    :class:`ExpressionError`, and that only if the caller's own stack is nearly exhausted."""
    try:
        return _Evaluator(environment).value(expression.root)
    except RecursionError:
        raise ExpressionError("expression too deeply nested to evaluate", 1) from None


def evaluate_bool(expression: Expression, environment: Environment) -> bool:
    """XPath boolean() of the value: numbers true unless zero or NaN, strings unless empty."""
    return _to_bool(evaluate(expression, environment))


def evaluate_string(expression: Expression, environment: Environment) -> str:
    """XPath string() of the value, as a calculation's answer is stored (``3``, ``true``, ``2026-03-31``)."""
    return _to_string(evaluate(expression, environment))
