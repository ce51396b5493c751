"""XLSForm import over the public forms in ../shared/xlsforms/ (skipped when absent).

    .venv/bin/python -m bench.xlsform_import [--directory DIR] [--verbose]

For every form that pyxform accepts: converted as ``baraza survey import`` does, then loaded by
Baraza's survey loader. Prints how many import with nothing dropped, with drops (and which
types), are refused (and why; a refused form is also given to ODK Validate, the jar pyxform
ships, run with Java, and those it refuses too are listed apart: the score is printed over all
forms pyxform accepts and over those ODK Validate also accepts), crash; separately how many convert to YAML with nothing dropped
(whether or not this checkout's loader accepts every type in it: media, geopoints and repeats are
loaded by other branches), with the types the loader does not know; and a fidelity check of each
loaded survey against pyxform's own parse (names, types, choices, relevant/constraint/calculation,
labels per language), printing every mismatch the conversion did not report.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from bench.machine import describe
from testkit.paths import SHARED
from testkit.xlsform_corpus import FormResult, corpus_forms, import_form


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--directory", type=Path, default=SHARED / "xlsforms")
    parser.add_argument("--verbose", action="store_true", help="one line per form")
    arguments = parser.parse_args()
    print(describe())
    if not arguments.directory.is_dir():
        print(f"{arguments.directory}: absent; nothing to measure")
        return 0
    started = time.perf_counter()
    results: list[FormResult] = []
    for path in corpus_forms(arguments.directory):
        result = import_form(path)
        results.append(result)
        if arguments.verbose:
            print(f"  {result.status:8} {path.relative_to(arguments.directory)} {result.reason}")
    seconds = time.perf_counter() - started
    accepted = [r for r in results if r.status != "skipped"]
    total = len(accepted)
    by_status = Counter(r.status for r in accepted)
    print(f"forms: {len(results)} in {arguments.directory}, {total} accepted by pyxform ({seconds:.1f} s)")
    print(f"  imported with nothing dropped: {by_status['clean']:3} ({_percent(by_status['clean'], total)})")
    waiting_files = [r for r in accepted if r.status == "clean" and r.conversion and r.conversion.missing_files]
    if waiting_files:
        print(
            f"    of which {len(waiting_files)} read CSV files (pulldata(), search(), *_from_file) that are not beside "
            "the form here: imported with a warning; empty values / no choices until they are put beside the survey"
        )
        for r in waiting_files:
            assert r.conversion is not None
            print(f"      {r.path.name}: {', '.join(r.conversion.missing_files)}")
    print(f"  imported with drops:           {by_status['dropped']:3}")
    drops = Counter(kind for r in accepted if r.status == "dropped" for kind in r.dropped_types)
    for kind, count in drops.most_common():
        print(f"      {kind}: {count} forms")
    print(f"  refused:                       {by_status['refused']:3}")
    for r in accepted:
        if r.status == "refused" and not r.odk_invalid:
            print(f"      {r.path.name}: {r.reason}")
    invalid = [r for r in accepted if r.odk_invalid]
    if invalid:
        print(f"    of which ODK Validate (pyxform's jar, run on each refused form) refuses too: {len(invalid)}")
        for r in invalid:
            print(f"      {r.path.name}: {r.reason}\n          ODK Validate: {r.odk_invalid}")
    print(f"  crashed:                       {by_status['crashed']:3}")
    for r in accepted:
        if r.status == "crashed":
            print(f"      {r.path.name}: {r.reason}")
    valid = total - len(invalid)
    print(
        f"score: {by_status['clean']} of {total} accepted by pyxform imported with nothing dropped "
        f"({_percent(by_status['clean'], total)}); of the {valid} that ODK Validate also accepts: "
        f"{_percent(by_status['clean'], valid)} (the {len(invalid)} it refuses are counted as refused in the first figure)"
    )
    converted = sum(1 for r in accepted if r.converted_clean)
    print(f"converted to YAML with nothing dropped, every type: {converted} ({_percent(converted, total)})")
    waiting = Counter(t for r in accepted if r.converted_clean for t in r.unknown_types)
    pending = sum(1 for r in accepted if r.converted_clean and r.unknown_types)
    if waiting:
        print(
            f"  of which {pending} use types this version's loader does not run yet: "
            + ", ".join(f"{t} ({n} forms)" for t, n in waiting.most_common())
        )
    loaded = [r for r in accepted if r.loads]
    silent = [r for r in loaded if r.mismatches]
    print(f"fidelity: {len(loaded)} loaded surveys compared with pyxform, {len(silent)} with silent changes")
    for r in silent:
        for mismatch in r.mismatches:
            print(f"  {r.path.name}: {mismatch}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
