"""Importing real XLSForms and checking the result against pyxform's own reading of them.

Shared by ``bench/xlsform_import.py`` (which prints the figures) and the corpus test
(``tests/surveys/test_xlsform_corpus.py``). Each form is converted as ``baraza survey import``
does, loaded by Baraza's survey loader, and compared with the JSON pyxform builds from the same
workbook (``pyxform.xls2json.parse_file_to_json``): question names, types, choices,
relevant/constraint/calculation and labels per language. A difference that the conversion does
not report (a warning or a dropped row) is a *silent change*.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveys.errors import SurveyFileError
from surveys.loader import load_survey_text
from surveys.model import Survey
from surveys.xlsform import XlsformConversion, XlsformError, convert_xlsform, language_code, loader_knows

#: pyxform's JSON type names -> Baraza question types (the ones not listed keep their name).
PYXFORM_TYPES = {
    "select one": "select_one", "select all that apply": "select_multiple", "select one external": "select_one",
    "select_one_from_file": "select_one", "select_multiple_from_file": "select_multiple",
    "select one from file": "select_one", "select multiple from file": "select_multiple",
    "string": "text", "add text prompt": "text", "int": "integer", "dateTime": "datetime", "photo": "image",
    "gps": "geopoint", "trigger": "acknowledge", "phone number": "phonenumber", "uri:deviceid": "deviceid",
    "uri:username": "username", "uri:phonenumber": "phonenumber", "uri:simserial": "simserial",
    "uri:subscriberid": "subscriberid", "uri:email": "email", "sim id": "simserial", "device id": "deviceid",
    "subscriber id": "subscriberid", "imei": "deviceid", "loop": "repeat",
}  # fmt: skip
CONTAINERS = ("group", "repeat", "loop")
SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@dataclass
class FormResult:
    """What became of one form."""

    path: Path
    #: "clean" (imported, nothing dropped), "dropped", "refused", "crashed"; "skipped" if pyxform refuses it.
    status: str
    #: Converted to YAML with nothing dropped (whether or not this branch's loader accepts it).
    converted_clean: bool = False
    loads: bool = False
    dropped_types: list[str] = field(default_factory=list)
    reason: str = ""
    #: Question types (and "repeat") that convert but that this version's loader does not run.
    unknown_types: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    conversion: XlsformConversion | None = None
    survey: Survey | None = None
    #: Of a refused form: ODK Validate's own verdict (its first error line), if ODK refuses the form too.
    odk_invalid: str = ""


def corpus_forms(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in (".xls", ".xlsx") and p.is_file())


def pyxform_json(path: Path) -> dict[str, Any] | None:
    """pyxform's own parse of the form, or None if pyxform refuses it."""
    from pyxform.xls2json import parse_file_to_json
    from pyxform.xls2xform import convert

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            convert(xlsform=str(path), validate=False, warnings=[])
            result: dict[str, Any] = parse_file_to_json(str(path), warnings=[])
        except Exception:
            return None
    return result


def odk_validate(path: Path) -> str | None:
    """ODK Validate's verdict on the form (the jar pyxform ships, run with Java): "" if it accepts it,
    its first error line if it refuses it, None if it cannot be run (no Java)."""
    import shutil

    from pyxform.validators.odk_validate import ODKValidateError
    from pyxform.xls2xform import convert

    if shutil.which("java") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            convert(xlsform=str(path), validate=True, warnings=[])
        except ODKValidateError as error:
            lines = [line.strip(" >") for line in str(error).splitlines() if line.strip(" >")]
            useful = [line for line in lines if not line.startswith(("ODK Validate Errors", "Something broke"))]
            return (useful or lines or ["refused"])[0][:200]
        except Exception:
            return None
    return ""


_TYPE_LINE = re.compile(r"^\s*-?\s*type: (\S+)", re.MULTILINE)


def _types(yaml_text: str) -> list[str]:
    return sorted({t.split()[0] for t in _TYPE_LINE.findall(yaml_text)})


def import_form(path: Path) -> FormResult:
    """Convert and load one form as ``baraza survey import`` would, then check its fidelity."""
    expected = pyxform_json(path)
    if expected is None:
        return FormResult(path, "skipped", reason="pyxform refuses it")
    try:
        result = _import(path)
        if result.survey is not None and result.conversion is not None:
            result.mismatches = fidelity(expected, result.survey, result.conversion)
        if result.status == "refused":
            result.odk_invalid = odk_validate(path) or ""
    except Exception as error:  # a crash is what the benchmark counts
        return FormResult(path, "crashed", reason=f"{type(error).__name__}: {error}")
    return result


def _import(path: Path) -> FormResult:
    result = _load(path)
    try:  # the same form with every type converted, as after the media and repeat parts are merged
        everything = convert_xlsform(path, all_types=True)
    except XlsformError:
        return result
    result.converted_clean = True
    result.unknown_types = [t for t in _types(everything.yaml_text) if not loader_knows(t)]
    return result


def _load(path: Path) -> FormResult:
    try:
        conversion = convert_xlsform(path)
    except XlsformError as strict_error:
        try:
            conversion = convert_xlsform(path, drop_unsupported=True)
        except XlsformError as error:
            return FormResult(path, "refused", reason=str(error.issues[0]))
        if not conversion.dropped:
            return FormResult(path, "refused", reason=str(strict_error.issues[0]))
        kinds = sorted({issue.kind or "?" for issue in conversion.dropped})
        result = FormResult(path, "dropped", dropped_types=kinds, conversion=conversion)
    else:
        result = FormResult(path, "clean", conversion=conversion)
    try:
        result.survey = load_survey_text(conversion.yaml_text, path.stem + ".yaml")
        result.loads = True
    except SurveyFileError as error:
        first = error.problems[0]
        sheet, row = conversion.source_of(first.line)
        return FormResult(path, "refused", reason=f"{path.name}:{sheet}:{row}: {first.message}")
    return result


# --------------------------------------------------------------------------------------------
# Fidelity


#: Questions pyxform makes up itself: the table-list header rows (a layout for phone screens).
GENERATED = re.compile(r"^(generated_table_list_label|reserved_name_for_field_list_labels)_\d+$")


def _leaves(
    node: Mapping[str, Any], groups: tuple[Mapping[str, Any], ...] = ()
) -> Iterator[tuple[dict[str, Any], tuple[Mapping[str, Any], ...]]]:
    for child in node.get("children", ()):
        if child.get("control", {}).get("bodyless") and child.get("name") == "meta":
            continue  # instanceID and the like, which pyxform adds to every form
        if GENERATED.match(str(child.get("name", ""))):
            continue
        if child.get("type") in CONTAINERS:
            yield from _leaves(child, (*groups, child))
        else:
            yield child, groups


def _containers(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for child in node.get("children", ()):
        if child.get("type") in CONTAINERS:
            yield child
            yield from _containers(child)


def _norm(expression: str) -> str:
    text = re.sub(r"\.\./([A-Za-z_][\w.-]*)", r"${\1}", expression.translate(SMART_QUOTES))
    return re.sub(r"\s+", "", text)


def _label(text: str) -> str:
    """pyxform collapses runs of spaces and straightens quotes; Baraza shows the text as written."""
    return " ".join(text.translate(SMART_QUOTES).split())


def _texts(value: Any, default: str) -> dict[str, str]:
    """pyxform's label (a string, or {language name: text}) as {code: text}."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {default: _label(value)}
    result: dict[str, str] = {}
    for language, text in value.items():
        code = default if language == "default" else (language_code(language) or language)
        if str(text).strip() and str(text).strip() != "-":
            result.setdefault(code, _label(str(text)))
    return result


def fidelity(expected: Mapping[str, Any], survey: Survey, conversion: XlsformConversion) -> list[str]:
    """Every difference between pyxform's parse and the loaded survey that the conversion does
    not report (as a warning or a drop)."""
    mismatches: list[str] = []
    reported = {(issue.sheet, issue.row) for issue in (*conversion.warnings, *conversion.dropped)}
    renamed = conversion.renamed
    default = survey.default_language
    seen: set[str] = set()
    looped = any(issue.kind == "loop" for issue in conversion.warnings)
    counted = {f"{node['name']}_count" for node in _containers(expected) if node.get("control", {}).get("jr:count")}
    for item, groups in _leaves(expected):
        if str(item.get("name")) in counted and item.get("type") == "calculate":
            continue  # pyxform's own calculate for a repeat_count expression
        pyx_type = str(item.get("type"))
        name = str(item.get("name"))
        if name in conversion.left_out or any(str(g.get("name")) in conversion.left_out for g in groups):
            continue  # reported as dropped
        if looped and any(g.get("type") == "loop" for g in groups):
            continue  # a loop expanded into a group per choice (reported): pyxform's JSON has the template
        if name in seen:  # the same name again (in another group): renamed by the conversion
            name = renamed.get(name, name)
        seen.add(name)
        row = conversion.rows.get(name)
        if row is not None and ("survey", row) in reported:
            continue  # what the conversion reported is not silent
        if not survey.has_question(name):
            mismatches.append(f"{name}: {pyx_type} question missing")
            continue
        question = survey.question(name)
        where = f"{name}"
        wanted_type = PYXFORM_TYPES.get(pyx_type, pyx_type)
        if question.type.value != wanted_type:
            mismatches.append(f"{where}: type {question.type.value}, pyxform says {pyx_type}")
        bind = item.get("bind", {})
        checks = (
            ("relevant", bind.get("relevant"), question.relevant[-1].source if question.relevant else None),
            ("constraint", bind.get("constraint"), question.constraint.source if question.constraint else None),
            ("calculation", bind.get("calculate"), question.calculation.source if question.calculation else None),
        )
        for what, want, have in checks:
            if what == "relevant":
                want_all = [g["bind"]["relevant"] for g in groups if g.get("bind", {}).get("relevant")]
                if want and want not in want_all:  # pyxform copies a group's relevant to each child of
                    want_all.append(want)  # an unlabelled group (flat_xlsform_test): the same condition once
                have_all = [e.source for e in question.relevant]
                if [_norm(e) for e in want_all] != [_norm(e) for e in have_all]:
                    mismatches.append(f"{where}: relevant {have_all}, pyxform says {want_all}")
                continue
            if (want or None) is None and have is None:
                continue
            if want is None or have is None or _norm(str(want)) != _norm(have):
                mismatches.append(f"{where}: {what} {have!r}, pyxform says {want!r}")
        label = _texts(item.get("label"), default)
        for code, text in label.items():  # as the respondent sees it (a missing translation: the default's)
            have = question.label.in_language(code, default)
            if _label(have) != text:
                mismatches.append(f"{where}: label in {code} {have!r}, pyxform says {text!r}")
        if wanted_type in ("select_one", "select_multiple", "rank") and "choices" in item:
            want_choices = [(str(c["name"]), _texts(c.get("label"), default)) for c in item["choices"]]
            have_choices = [(c.name, c.label) for c in question.choices]
            if [n for n, _ in want_choices] != [n for n, _ in have_choices][: len(want_choices)]:
                mismatches.append(
                    f"{where}: choices {[n for n, _ in have_choices]}, pyxform says {[n for n, _ in want_choices]}"
                )
            else:
                for (choice_name, want_label), (_, have_choice) in zip(want_choices, have_choices, strict=False):
                    for code, text in want_label.items():
                        have = have_choice.in_language(code, default)
                        if _label(have) != text:
                            mismatches.append(
                                f"{where}: label of choice {choice_name} in {code} {have!r}, pyxform says {text!r}"
                            )
    return mismatches
