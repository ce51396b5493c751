"""XLSForm expressions: parsing, errors with columns, evaluation with XLSForm's empty values."""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.expressions import (
    MAX_LENGTH,
    MAX_NESTING,
    ChoiceColumn,
    Environment,
    Expression,
    ExpressionError,
    FunctionCall,
    NumberLiteral,
    Operation,
    Reference,
    StringLiteral,
    evaluate,
    evaluate_bool,
    evaluate_string,
    parse,
    unparse,
)

TODAY = date(2026, 3, 31)
EPOCH = date(1970, 1, 1)
ANSWERS: dict[str, str | None] = {
    "age": "20",
    "teen": "15",
    "zero": "0",
    "half": "2.5",
    "negative": "-7",
    "word": "abc",
    "topics": "prices labour",
    "d": "2026-01-01",
    "later": "2026-12-31",
    "region": "west",
    "bad_date": "2026-02-30",
    "skipped": None,
    "yes": "true",
    "no": "false",
}


def days(day: date) -> str:
    return str((day - EPOCH).days)


def env(current: str | None = None, choice: dict[str, str] | None = None, **answers: str | None) -> Environment:
    return Environment(answers={**ANSWERS, **answers}, current=current, today=TODAY, choice=choice)


def string_of(text: str, environment: Environment | None = None) -> str:
    return evaluate_string(parse(text), environment or env())


def bool_of(text: str, environment: Environment | None = None) -> bool:
    return evaluate_bool(parse(text), environment or env())


# --- Values as XLSForm stores them ------------------------------------------------------------

STRING_CASES = [
    # arithmetic
    ("1 + 2", "3"),
    ("5 - 7", "-2"),
    ("2 * 3.5", "7"),
    ("7 div 2", "3.5"),
    ("10 div 4 * 2", "5"),
    ("7 mod 3", "1"),
    ("-7 mod 3", "-1"),
    ("7 mod -3", "1"),
    ("5.5 mod 2", "1.5"),
    ("0.1 + 0.2", "0.3"),
    ("1 div 3", "0.3333333333333333333333333333"),
    ("1 div 0", "NaN"),
    ("0 div 0", "NaN"),
    ("5 mod 0", "NaN"),
    ("-(2 + 3)", "-5"),
    ("- - 2", "2"),
    ("2 * -3", "-6"),
    ("-0", "0"),
    ("0 * -1", "0"),
    (".5 + 5.", "5.5"),
    ("1.50", "1.5"),
    ("100.000", "100"),
    ("0.0", "0"),
    ("3.0 + 0", "3"),
    ("${half} * 2", "5"),
    ("${negative} + 10", "3"),
    ("${word} + 1", "NaN"),
    ("true() + true()", "2"),
    ("false() * 5", "0"),
    # precedence and associativity
    ("2 + 3 * 4", "14"),
    ("(2 + 3) * 4", "20"),
    ("10 - 4 - 3", "3"),
    ("10 - (4 - 3)", "9"),
    ("100 div 10 div 5", "2"),
    ("2 * 3 mod 4", "2"),
    ("-2 * 3", "-6"),
    ("-(2 * 3) + 1", "-5"),
    ("1 + 2 = 3", "true"),
    ("1 < 2 = 1", "true"),
    ("1 = 2 = 0", "true"),
    ("1 < 2 < 3", "true"),
    ("3 > 2 > 1", "false"),
    ("1 or 0 and 0", "true"),
    ("(1 or 0) and 0", "false"),
    ("0 and 1 or 1", "true"),
    ("2 = 1 + 1 and 3 > 2", "true"),
    ("1 = 1 or 1 div 0", "true"),
    # functions
    ("count-selected(${topics})", "2"),
    ("count-selected('')", "0"),
    ("count-selected(${skipped})", "0"),
    ("count-selected('a   b  c')", "3"),
    ("selected-at(${topics}, 0)", "prices"),
    ("selected-at(${topics}, 1)", "labour"),
    ("selected-at(${topics}, 2)", ""),
    ("selected-at(${topics}, -1)", ""),
    ("selected-at(${topics}, 'x')", ""),
    ("selected-at('', 0)", ""),
    ("string-length('héllo')", "5"),
    ("string-length(${skipped})", "0"),
    ("string-length(12.50)", "4"),
    ("today()", "2026-03-31"),
    ("if(1 > 2, 'a', 'b')", "b"),
    ("if(${age} >= 18, 'adult', 'minor')", "adult"),
    ("if(${skipped} >= 18, 'adult', 'minor')", "minor"),
    ("if('', 1, 2)", "2"),
    ("coalesce(${skipped}, 'none')", "none"),
    ("coalesce(${age}, 0)", "20"),
    ("coalesce('', '')", ""),
    ("not(0)", "true"),
    ("not('')", "true"),
    ("not('x')", "false"),
    ("concat('a')", "a"),
    ("concat(${region}, '-', ${age}, '-', 1.50, true())", "west-20-1.5true"),
    ("concat(${skipped}, 'x')", "x"),
    ("contains('abc', 'b')", "true"),
    ("contains('abc', '')", "true"),
    ("contains('abc', 'd')", "false"),
    ("starts-with('abc', 'ab')", "true"),
    ("starts-with('abc', 'bc')", "false"),
    ("regex('12345', '^[0-9]{5}$')", "true"),
    ("regex('1234', '^[0-9]{5}$')", "false"),
    ("regex('ab12', '[0-9]')", "true"),
    ('regex("KE-123", "^[A-Z]{2}-\\d+$")', "true"),
    ("regex(${skipped}, '^$')", "true"),
    ("int('3.9')", "3"),
    ("int(-3.9)", "-3"),
    ("int(7 div 2)", "3"),
    ("int('')", "NaN"),
    ("round(2.5)", "3"),
    ("round(-2.5)", "-3"),
    ("round(2.4)", "2"),
    ("round(2.345, 2)", "2.35"),
    ("round(2.5, 3)", "2.5"),
    ("round(1234.5, -2)", "1200"),
    ("round(1 div 3, 4)", "0.3333"),
    ("round(2.5, '')", "NaN"),
    ("round('', 2)", "NaN"),
    ("number('  12 ')", "12"),
    ("number('-.5')", "-0.5"),
    ("number('abc')", "NaN"),
    ("number('1e3')", "NaN"),
    ("number('')", "NaN"),
    ("number(true())", "1"),
    ("number(${d})", days(date(2026, 1, 1))),
    ("string(1.50)", "1.5"),
    ("string(true())", "true"),
    ("string(today())", "2026-03-31"),
    ("string(1 div 0)", "NaN"),
    ("boolean('0')", "true"),
    ("boolean(0)", "false"),
    ("boolean('')", "false"),
    ("boolean(today())", "true"),
    ("true()", "true"),
    ("false()", "false"),
    ("date('2026-02-28')", "2026-02-28"),
    ("date(${bad_date})", ""),
    ("date('abc')", ""),
    ("date(${skipped})", ""),
    ("date(0)", "1970-01-01"),
    ("date(1.9)", "1970-01-02"),
    ("date(-1)", "1969-12-31"),
    ("date(99999999)", ""),
    ("date(true())", ""),
    ("date(today())", "2026-03-31"),
    # dates in arithmetic: day counts
    ("today() - ${d}", "89"),
    ("${later} - ${d}", "364"),
    ("today() + 1", days(date(2026, 4, 1))),
    ("date(today() + 1)", "2026-04-01"),
    ("date(${d} - 1)", "2025-12-31"),
    ("today() - ${skipped}", "NaN"),
    # strings
    ("'single'", "single"),
    ('"double"', "double"),
    ('"it\'s"', "it's"),
    ("'say \"hi\"'", 'say "hi"'),
    ("''", ""),
    ("${skipped}", ""),
    ("${unknown}", ""),
    ("${region}", "west"),
]


@pytest.mark.parametrize(("text", "expected"), STRING_CASES)
def test_evaluate_string(text: str, expected: str) -> None:
    assert string_of(text) == expected


BOOL_CASES = [
    # empty values: XLSForm semantics
    ("${skipped} >= 18", False),
    ("${skipped} < 18", False),
    ("${unknown} >= 18", False),
    ("${skipped} = ''", True),
    ("${skipped} != ''", False),
    ("${age} != ''", True),
    ("${skipped} = 0", False),
    ("${skipped} != 0", True),
    ("${skipped} + 1", False),
    ("${skipped}", False),
    ("${zero}", True),  # a non-empty string
    ("number(${zero})", False),
    ("${age} >= 18", True),
    ("${teen} >= 18", False),
    ("${age} = 20", True),
    ("${age} = '20'", True),
    ("${age} = 20.0", True),
    ("${half} = 2.50", True),
    ("${word} = 'abc'", True),
    ("${word} < 5", False),
    ("${word} >= 5", False),
    # strings, numbers and booleans compared
    ("'a' = 'a'", True),
    ("'a' != 'b'", True),
    ("'abc' < 'abd'", False),  # not numbers: NaN
    ("'10' > '9'", True),
    ("'01' = '1'", False),  # two strings: as strings (choice names)
    ("'01' = 1", True),  # a number on one side: as numbers
    ("'x' = 1", False),
    ("'x' != 1", True),
    ("1 div 0 = 1 div 0", False),
    ("1 div 0 != 1 div 0", True),
    ("true() = 1", True),
    ("true() = 2", True),
    ("false() = 0", True),
    ("true() = 'true'", True),
    ("true() = 'false'", False),
    ("false() = 'false'", True),
    ("true() = 'yes'", True),
    ("false() = ''", True),
    ("false() = '0'", True),
    ("true() = ${yes}", True),
    ("true() = ${no}", False),
    ("${no} = false()", True),
    ("true() > false()", True),
    ("true() != false()", True),
    # selected
    ("selected(${topics}, 'prices')", True),
    ("selected(${topics}, 'labour')", True),
    ("selected(${topics}, 'price')", False),
    ("selected(${topics}, '')", False),
    ("selected(${skipped}, 'prices')", False),
    ("selected('1 2 3', 2)", True),
    ("not(selected(${topics}, 'prices'))", False),
    # dates
    ("${d} < today()", True),
    ("${d} > today()", False),
    ("${later} > today()", True),
    ("${d} < ${later}", True),
    ("${d} = '2026-01-01'", True),
    ("date(${d}) = '2026-01-01'", True),
    ("date(${d}) = '2026-01-02'", False),
    ("date(${d}) = 'abc'", False),
    ("today() = '2026-03-31'", True),
    ("today() != '2026-03-31'", False),
    ("today() > '2026-03-30'", True),
    ("today() = date('2026-03-31')", True),
    ("today() = number(today())", True),
    ("today() - ${d} > 30", True),
    ("${skipped} < today()", False),
    ("today() = ${skipped}", False),
    ("${bad_date} < today()", False),
    # keywords and whitespace
    ("1 and 1", True),
    ("1 and(0)", False),
    ("0 or(1)", True),
    ("\t1\n=\r\n1 ", True),
    ("not (1 = 2)", True),
    ("string-length ('ab') = 2", True),
]


@pytest.mark.parametrize(("text", "expected"), BOOL_CASES)
def test_evaluate_bool(text: str, expected: bool) -> None:
    assert bool_of(text) is expected


def test_evaluate_returns_typed_values() -> None:
    environment = env()
    assert evaluate(parse("1 + 1"), environment) == Decimal(2)
    assert evaluate(parse("'a'"), environment) == "a"
    assert evaluate(parse("1 = 1"), environment) is True
    assert evaluate(parse("today()"), environment) == TODAY
    assert evaluate(parse("${age}"), environment) == "20"
    assert evaluate(parse("${skipped}"), environment) == ""
    assert evaluate(parse("1 div 0"), environment).is_nan()  # type: ignore[union-attr]


def test_environment_defaults() -> None:
    environment = Environment(answers={})
    assert environment.current is None
    assert environment.choice is None
    assert environment.today == date.today()
    assert evaluate_string(parse("."), environment) == ""


# --- '.' in constraints -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("20", True),
        ("15", True),
        ("120", True),
        ("14", False),
        ("121", False),
        ("", False),
        (None, False),
        ("abc", False),
    ],
)
def test_current_value_in_a_constraint(current: str | None, expected: bool) -> None:
    assert bool_of(". >= 15 and . <= 120", env(current=current)) is expected


def test_current_value_with_functions() -> None:
    assert bool_of("regex(., '^[0-9]{5}$')", env(current="00100"))
    assert not bool_of("regex(., '^[0-9]{5}$')", env(current="0010"))
    assert bool_of("string-length(.) <= 3", env(current="abc"))
    assert bool_of(". <= today()", env(current="2026-03-31"))
    assert not bool_of(". <= today()", env(current="2026-04-01"))
    assert bool_of(". > ${age}", env(current="21"))


# --- choice_filter ----------------------------------------------------------------------------

KISUMU = {"name": "d1", "region": "west"}
NAIROBI = {"name": "d2", "region": "central"}


def test_choice_filter_reads_choice_columns() -> None:
    expression = parse("region = ${region}")
    assert evaluate_bool(expression, env(choice=KISUMU))
    assert not evaluate_bool(expression, env(choice=NAIROBI))
    assert not evaluate_bool(expression, env(choice=KISUMU, region=None))
    assert bool_of("name != 'd1'", env(choice=NAIROBI))
    assert bool_of("missing = ''", env(choice=KISUMU))
    assert bool_of("region = ''", env())  # no choice: every bare name is empty
    assert bool_of("region = 'west' or name = 'd2'", env(choice=NAIROBI))
    assert bool_of("selected(${topics}, kind)", env(choice={"name": "c", "kind": "prices"}))


# --- What an expression uses ------------------------------------------------------------------


def test_references_and_their_columns() -> None:
    expression = parse("${a} + ${b.c-d} * ${a} > count-selected(${e})")
    assert expression.references() == frozenset({"a", "b.c-d", "e"})
    assert expression.reference_columns() == {"a": 1, "b.c-d": 8, "e": 41}
    assert list(expression.reference_columns()) == ["a", "b.c-d", "e"]
    assert not expression.uses_current()
    assert expression.bare_names() == frozenset()


def test_reference_columns_take_the_first_occurrence() -> None:
    expression = parse("if(${x} > 1, ${y}, ${x})")
    assert expression.reference_columns() == {"x": 4, "y": 14}


def test_bare_names_and_current() -> None:
    expression = parse("region = ${region} and kind != 'x' and . != ''")
    assert expression.bare_names() == frozenset({"region", "kind"})
    assert expression.references() == frozenset({"region"})
    assert expression.uses_current()
    assert parse("string-length(.)").uses_current()
    assert parse(".5").uses_current() is False
    assert parse("count-selected(${a}) and today()").bare_names() == frozenset()


def test_expression_keeps_its_source_and_compares_by_meaning() -> None:
    expression = parse(" ${a}  +1")
    assert isinstance(expression, Expression)
    assert expression.source == " ${a}  +1"
    assert expression.root == Operation((Reference("a"), NumberLiteral(Decimal(1))), ("+",))
    assert parse("${a}+1").root == expression.root
    assert hash(parse("${a}+1").root) == hash(expression.root)
    assert parse("(1 - 2) - 3").root == parse("1 - 2 - 3").root
    assert parse("1 - (2 - 3)").root != parse("1 - 2 - 3").root
    call = parse("concat('x', col)").root
    assert call == FunctionCall("concat", (StringLiteral("x"), ChoiceColumn("col")))
    assert isinstance(call, FunctionCall) and call.column == 1 and call.arguments[1].column == 13


# --- Errors and their columns -----------------------------------------------------------------

ERROR_CASES = [
    ("", 1, "empty expression"),
    ("   ", 1, "empty expression"),
    ("'abc", 1, "unterminated string"),
    ('1 + "ab', 5, "unterminated string"),
    ("${age} >> 3", 9, "expected a value, found '>'"),
    ("foo(1)", 1, "unknown function 'foo'"),
    ("1 + ab:choice-name(1)", 7, "unexpected character ':'"),
    ("1 + jr:choice-name(1)", 5, "jr:choice-name() takes 2 arguments, not 1"),
    ("jr:itext('x')", 1, "unknown function 'jr:itext'"),
    ("1 + bar-baz (2)", 5, "unknown function 'bar-baz'"),
    ("(1 + 2", 7, "expected ')' to close the '(' at column 1, found the end of the expression"),
    ("((1) + 2", 9, "expected ')' to close the '(' at column 1"),
    ("(1 2)", 4, "expected ')' to close the '(' at column 1, found '2'"),
    ("concat(1, 2", 12, "expected ',' or ')' in the arguments of concat()"),
    ("concat(1 2)", 10, "expected ',' or ')'"),
    ("concat(1,)", 10, "expected a value, found ')'"),
    ("${}", 1, "empty reference '${}'"),
    ("1 + ${}", 5, "empty reference '${}'"),
    ("${age", 1, "unterminated '${'"),
    ("${", 1, "unterminated '${'"),
    ("${1a}", 3, "a question name must start with a letter or '_'"),
    ("${a b}", 4, "expected '}' to close the '${' at column 1"),
    ("$age", 1, "unexpected character '$'"),
    ("selected(${a})", 1, "selected() takes 2 arguments, not 1"),
    ("1 + count-selected()", 5, "count-selected() takes 1 argument, not 0"),
    ("today(1)", 1, "today() takes no arguments, not 1"),
    ("round(1, 2, 3)", 1, "round() takes 1 or 2 arguments, not 3"),
    ("concat()", 1, "concat() takes at least 1 argument, not 0"),
    ("if(1, 2)", 1, "if() takes 3 arguments, not 2"),
    ("1 2", 3, "unexpected '2'"),
    ("1 AND 2", 3, "unexpected 'AND'"),
    ("1 Div 2", 3, "unexpected 'Div'"),
    ("and", 1, "expected a value, found 'and'"),
    ("and(1)", 1, "unknown function 'and'"),
    ("1 +", 4, "expected a value, found the end of the expression"),
    (")", 1, "expected a value, found ')'"),
    ("1)", 2, "unexpected ')'"),
    ("a # b", 3, "unexpected character '#'"),
    ("1 ! 2", 3, "unexpected character '!'"),
    ("1 == 2", 4, "expected a value, found '='"),
    ("..", 2, "unexpected '.'"),
    ("1e5", 2, "unexpected 'e5'"),
    ("a-b-", 5, "expected a value"),
    ("1 +\x00", 4, "unexpected character '\\x00'"),
    ("regex(., ${pattern})", 10, "regex() needs its pattern as a quoted string"),
    ("regex(., concat('a', 'b'))", 10, "regex() needs its pattern as a quoted string"),
    ("regex(., '[')", 10, "invalid regex() pattern"),
    ("regex(., '" + "a" * 201 + "')", 10, "regex() pattern longer than 200 characters"),
]


@pytest.mark.parametrize(("text", "column", "message"), ERROR_CASES)
def test_errors_have_columns(text: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.column == column
    assert caught.value.message.startswith(message)
    assert str(caught.value) == f"column {column}: {caught.value.message}"


def test_expression_error_format() -> None:
    error = ExpressionError("unexpected '>'", 9)
    assert (error.message, error.column, str(error)) == ("unexpected '>'", 9, "column 9: unexpected '>'")


def test_non_text_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern",
    [
        "^[0-9]{5}$",
        "^(\\+|00)?[0-9]+$",
        "^(yes|no)$",
        "(ab)+",
        "([A-Z]{2}-)+",
        "^\\d{3}(-\\d{4})?$",
        "[(a+)+]",
        "\\(a+\\)+",
        "^[A-Za-z]+(?> [A-Za-z]+)*$",
        "^[A-Za-z]+( [A-Za-z]+)*+$",
        "^([a-z]++ )+$",
        "(a+)?",
        "^\\S+@\\S+\\.\\S+$",
    ],
)
def test_regex_patterns_accepted(pattern: str) -> None:
    parse(f"regex(., '{pattern}')")


@pytest.mark.parametrize(
    "pattern", ["(a+)+", "(a*)*", "(\\w+\\s?)+$", "((ab)+c)*", "(a{1,3})+", "(?:x+y?)*", "(a+){2,}", "(a*){2,9}"]
)
def test_regex_patterns_that_can_backtrack_forever_run_with_a_time_limit(pattern: str) -> None:
    # ODK forms have them (UCL_Biomass_Plot_Form's phone numbers): accepted, and searched by the
    # `regex` engine with a time limit, so a hostile answer gets "no match" rather than a hung bot.
    expression = parse(f"regex(., '^(?:{pattern})$')")
    for length in (30, 500, 5000):
        assert not evaluate_bool(expression, env(current="a" * length + "!"))


def test_a_nested_pattern_still_matches_what_it_should() -> None:
    phone = "^(([0-9]{1})*[- .(]*([0-9]{3})[- .)]*[0-9]{3}[- .]*[0-9]{4})+$"
    expression = parse(f"regex(., '{phone}')")
    assert evaluate_bool(expression, env(current="(071) 234-5678"))
    assert not evaluate_bool(expression, env(current="071-234-567"))
    assert evaluate_bool(parse("regex(., '^(a+)+$')"), env(current="aaaa"))


def test_an_invalid_nested_pattern_is_refused() -> None:
    with pytest.raises(ExpressionError, match="invalid regex"):
        parse("regex(., '(a+)+(?<')")


@pytest.mark.parametrize(
    ("pattern", "longest"),
    [
        ("a", 10_000),
        ("a+", 6324),
        ("^\\d*\\d*x|a", 493),
        ("\\S+@\\S+\\.\\S+|a", 148),
        ("a{1,5}a{0,10}(?>a*)a*+|a", 493),
    ],
)
def test_regex_tries_only_texts_short_enough_for_the_pattern(pattern: str, longest: int) -> None:
    expression = parse(f"regex(., '{pattern}')")
    assert evaluate_bool(expression, env(current="a" * longest))
    assert not evaluate_bool(expression, env(current="a" * (longest + 1)))


def test_regex_worst_case_patterns_give_an_answer() -> None:
    # Catastrophic-backtracking shapes answer (no match) instead of hanging the bot; how fast
    # is measured outside the test suite, which makes no timing assertions.
    for pattern in ["\\d*\\d*\\d*x", ".*.*.*.*.*=", "\\d*x", "^(\\d+ )*+x"]:
        expression = parse(f"regex(., '{pattern}')")
        for length in (50, 150, 500, 2000):
            assert not evaluate_bool(expression, env(current="1" * length))


# --- Limits against hostile input -------------------------------------------------------------


def test_length_limit() -> None:
    parse("1" + " " * (MAX_LENGTH - 1))
    with pytest.raises(ExpressionError) as caught:
        parse("1" + " " * MAX_LENGTH)
    assert caught.value.column == MAX_LENGTH + 1


@pytest.mark.parametrize(
    ("opening", "closing", "levels_each", "expected", "column"),
    [("(", ")", 1, "1", 51), ("-", "", 1, "1", 51), ("not(", ")", 1, "true", 201), ("- (", ")", 2, "-1", 76)],
)
def test_nesting_limit(opening: str, closing: str, levels_each: int, expected: str, column: int) -> None:
    count = MAX_NESTING // levels_each
    assert string_of(opening * count + "1" + closing * count) == expected
    with pytest.raises(ExpressionError, match="nested deeper than 50") as caught:
        parse(opening * (count + 1) + "1" + closing * (count + 1))
    assert caught.value.column == column


def test_the_syntax_tree_is_at_most_50_deep() -> None:
    # Each level of the call nests 7 nodes: if(), or, and, =, <, +, *.
    text = "${a}"
    for _ in range(7):
        text = f"if(0 or 1 and 1 = 1 < 1 + 1 * ({text}), 1, 0)"
    expression = parse(text)  # 49 deep
    assert evaluate_string(expression, env(a="3")) == "1"
    assert repr(expression) and expression == parse(text) and hash(expression.root)
    assert parse(f"not({text})").root == FunctionCall("not", (expression.root,))
    with pytest.raises(ExpressionError, match="nested deeper than 50") as caught:
        parse(f"1 + 2 * -{text}")
    assert caught.value.column == 7
    with pytest.raises(ExpressionError, match="nested deeper than 50") as caught:
        parse(f"round({text}, 1) = 1")
    assert caught.value.column == len(f"round({text}, 1) =")
    with pytest.raises(ExpressionError, match="nested deeper than 50") as caught:
        parse(f"int(int({text}))")
    assert caught.value.column == 1


def test_long_chains_are_flat() -> None:
    chain = parse("+".join(["1"] * 1000))
    assert evaluate_string(chain, env()) == "1000"
    assert isinstance(chain.root, Operation) and len(chain.root.operands) == 1000
    assert repr(chain) and hash(chain.root) and unparse(chain.root) == " + ".join(["1"] * 1000)
    assert string_of(" or ".join(["0"] * 300 + ["1"])) == "true"
    assert string_of("1" + " - 1" * 400) == "-399"


def test_huge_numbers_stay_bounded() -> None:
    big = "9" * 1500
    huge = env(big=big, minus_big="-" + big, tiny="0." + "0" * 1500 + "1")
    assert string_of("${big}", huge) == big
    assert string_of("number(${big})", huge) == big
    assert string_of("${big} * ${big}", huge) == "Infinity"
    assert string_of("-${big} * ${big}", huge) == "-Infinity"
    assert string_of("${big} * ${big} - ${big} * ${big}", huge) == "NaN"
    assert string_of("${big} * ${big} > 1", huge) == "true"
    assert string_of("int(${big})", huge) == big
    assert string_of("date(${big})", huge) == ""
    assert string_of("round(${big}, 2)", huge) == big
    assert string_of("round(1.5, ${big})", huge) == "1.5"
    assert string_of("round(1.5, -${big})", huge) == "0"
    assert string_of("selected-at('a b', ${big})", huge) == ""
    assert string_of("${tiny} * 0.5", huge) == "0"
    assert string_of("${tiny} > 0", huge) == "true"
    assert string_of("${big} mod 7", huge) == str(int(big) % 7)
    assert string_of("${minus_big} mod 1000", huge) == "-999"
    assert string_of("${minus_big} mod (1 div 0)", huge) == "NaN"
    assert string_of("5 mod (${big} * ${big})", huge) == "5"
    assert string_of("(${big} * ${big}) mod 5", huge) == "NaN"
    assert string_of("${big} mod ${tiny}", huge) == "0"
    assert string_of("round(0.125, 2) + round(12345, -999) + round(1, -1000)") == "0.13"


def test_evaluation_ignores_the_ambient_decimal_context() -> None:
    strict = decimal.Context(prec=3, Emax=10, Emin=-10, traps=list(decimal.Context().flags))
    huge = env(big="9" * 50, tiny="0." + "0" * 40 + "1")
    cases = [
        ("1 div 3", "0.3333333333333333333333333333"),
        ("${big} * ${big} > 0", "true"),
        ("${tiny} * ${tiny}", "0." + "0" * 81 + "1"),
        ("round(2.345, 2) + int(7.9) + -${half}", "6.85"),
        ("date(today() + 12345.6) > today()", "true"),
        ("selected-at(${topics}, 1.5)", "labour"),
        ("round(1.5, ${big})", "1.5"),
        ("1 div 0 < 1 or ${word} > 1", "false"),
        ("${big} mod 7", str(int("9" * 50) % 7)),
    ]
    with decimal.localcontext(strict):
        for text, expected in cases:
            assert string_of(text, huge) == expected, text


# --- Unparsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1+2*3", "1 + 2 * 3"),
        ("(1+2)*3", "(1 + 2) * 3"),
        ("(1 - 2) - 3", "1 - 2 - 3"),
        ("1 - (2 - 3)", "1 - (2 - 3)"),
        ("-(1 + 2)", "-(1 + 2)"),
        ("- -.5", "--0.5"),
        ("(a or b) and c", "(a or b) and c"),
        ('"it\'s" = ${x}', '"it\'s" = ${x}'),
        ("count-selected( . )", "count-selected(.)"),
        ("1 < 2 = (3 < 4)", "1 < 2 = 3 < 4"),
        ("1 = (2 = 3)", "1 = (2 = 3)"),
    ],
)
def test_unparse(text: str, expected: str) -> None:
    assert unparse(parse(text).root) == expected
    assert parse(expected).root == parse(text).root


def test_unparse_a_string_with_both_quotes() -> None:
    text = unparse(StringLiteral('it\'s "x"'))
    assert text == "concat('it', \"'\", 's \"x\"')"
    assert string_of(text) == 'it\'s "x"'


# --- Properties -------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def assert_parses_or_fails_cleanly(text: str) -> None:
    try:
        expression = parse(text)
    except ExpressionError as error:
        assert 1 <= error.column <= len(text) + 1, (text, error)
        assert error.message and str(error) == f"column {error.column}: {error.message}"
    else:
        expression.references()
        expression.bare_names()
        expression.reference_columns()
        evaluate_string(expression, env(current=text))
        assert parse(unparse(expression.root)).root == expression.root


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_expression_error(text: str) -> None:
    assert_parses_or_fails_cleanly(text)


GRAMMAR_PIECES = st.sampled_from(
    [*"${}()'\". ,-+*=<>!0123456789_ab\t", "and", "or", "div", "mod", "${a}", "${b}", "if(", "concat(", "not(",
     "selected(", "today()", "true()", "round(", "regex(", "count-selected(", "date(", "coalesce(", "'x'"]
)  # fmt: skip


@PROPERTY_SETTINGS
@given(st.lists(GRAMMAR_PIECES, max_size=60).map("".join))
def test_grammar_like_text_parses_or_raises_expression_error(text: str) -> None:
    assert_parses_or_fails_cleanly(text)


NAMES = ["a", "b", "c_1", "x.y-z"]
plain_numbers = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000).map(
        lambda d: f"{d:f}"
    ),
)
answer_values = st.one_of(
    st.none(),
    plain_numbers,
    st.dates().map(date.isoformat),
    st.sampled_from(["", "prices", "prices labour", "true", "false", "0", "NaN", " 3 ", "-", "."]),
    st.text(max_size=20),
)
literals = st.one_of(
    st.integers(0, 10**6).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=10**4).map(lambda d: f"{d:f}"),
    st.text(st.characters(blacklist_characters="'"), max_size=8).map(lambda s: f"'{s}'"),
    st.text(st.characters(blacklist_characters='"'), max_size=8).map(lambda s: f'"{s}"'),
    st.sampled_from([*(f"${{{name}}}" for name in NAMES), ".", "region", "kind", "today()", "true()", "false()"]),
)

UNARY = ["not", "count-selected", "string-length", "int", "round", "number", "string", "boolean", "date", "concat"]
BINARY = ["selected", "selected-at", "coalesce", "contains", "starts-with", "round", "concat"]
OPERATORS = ["or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod"]


def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"-{e}"),
        st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(inner, st.sampled_from(["^[0-9]+$", "a", "^(yes|no)$", ""])).map(
            lambda t: f"regex({t[0]}, '{t[1]}')"
        ),
        st.lists(inner, min_size=1, max_size=4).map(lambda args: f"concat({', '.join(args)})"),
    )


valid_expressions = st.recursive(literals, extend, max_leaves=25)
environments = st.builds(
    Environment,
    answers=st.dictionaries(st.sampled_from(NAMES), answer_values),
    current=answer_values,
    today=st.dates(),
    choice=st.one_of(st.none(), st.dictionaries(st.sampled_from(["name", "region", "kind"]), st.text(max_size=10))),
)


@PROPERTY_SETTINGS
@given(valid_expressions, environments)
def test_valid_expressions_parse_and_evaluate_without_raising(text: str, environment: Environment) -> None:
    try:
        expression = parse(text)
    except ExpressionError as error:  # the strategy can nest unary operators without limit
        assert "nested deeper" in error.message or "longer than" in error.message
        return
    value = evaluate(expression, environment)
    assert isinstance(value, str | Decimal | bool | date)
    assert isinstance(evaluate_string(expression, environment), str)
    assert isinstance(evaluate_bool(expression, environment), bool)
    reparsed = parse(unparse(expression.root))
    assert reparsed.root == expression.root
    assert evaluate_string(reparsed, environment) == evaluate_string(expression, environment)
    assert expression.references() <= set(NAMES)
    assert set(expression.reference_columns()) == expression.references()
    for name, column in expression.reference_columns().items():
        assert text[column - 1 :].startswith("${" + name + "}")
