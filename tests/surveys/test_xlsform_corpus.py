"""The public XLSForms in ../shared/xlsforms/ (skipped when absent): none crashes the import, and every
form that loads matches pyxform's own reading of it (names, types, choices, expressions, labels per
language) except where the conversion says so. The figures are printed by bench/xlsform_import.py."""

from __future__ import annotations

import warnings

import pytest

from testkit.paths import SHARED
from testkit.xlsform_corpus import corpus_forms, import_form

CORPUS = SHARED / "xlsforms"

pytestmark = [
    pytest.mark.slow,  # about 30 s: each form is read by pyxform and converted three times
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent"),
]


def test_no_form_crashes_and_nothing_changes_silently() -> None:
    crashed: list[str] = []
    silent: list[str] = []
    loaded = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in corpus_forms(CORPUS):
            result = import_form(path)
            if result.status == "crashed":
                crashed.append(f"{path.name}: {result.reason}")
            loaded += result.loads
            silent.extend(f"{path.name}: {mismatch}" for mismatch in result.mismatches)
    assert crashed == []
    assert silent == []
    assert loaded >= 80, "nearly every form loads (docs/surveys.md has the figures)"
    # pyxform is read with warnings ignored by the fidelity check itself; the import shows none.
    assert not [w for w in caught if "openpyxl" in str(w.filename)]
