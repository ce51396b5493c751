"""Where things are, for tests and benchmarks: the checkout, the shipped office content, test data."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OFFICE = ROOT / "office"
FORMS = OFFICE / "surveys"
TEST_DATA = ROOT / "tests" / "data"
HOSTILE_FORMS = TEST_DATA / "hostile_forms"
SDMX_SAMPLES = TEST_DATA / "sdmx"
XLSFORMS = ROOT / "tests" / "xlsforms"
# Public XLSForms and SDMX files beside the checkout (never copied into it: their licences vary).
SHARED = ROOT.parent / "shared"
