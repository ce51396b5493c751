"""`make security`: bandit over Baraza's code and pip-audit over the installed dependencies.

Fails on a bandit finding of high severity and on any known vulnerability pip-audit reports.
pip-audit needs its vulnerability database (PyPI's JSON API, or OSV); when it cannot reach it,
every dependency comes back "could not be audited" and the audit says nothing. That case is
reported as "skipped: no network" instead of passing silently or failing the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# `common` once the foundations branch has added it.
PACKAGES = [
    name
    for name in ("bot", "surveys", "handlers", "storage", "catalogue", "results", "common")
    if (ROOT / name).is_dir()
]


def run_bandit() -> bool:
    command = [str(BIN / "bandit"), "-c", "pyproject.toml", "-r", *PACKAGES, "-q", "--severity-level", "high"]
    result = subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 (fixed arguments)
    print("bandit: no findings of high severity" if result.returncode == 0 else "bandit: FINDINGS (see above)")
    return result.returncode == 0


def run_pip_audit() -> bool:
    command = [str(BIN / "pip-audit"), "--skip-editable", "--progress-spinner", "off", "--format", "json"]
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        print("pip-audit: skipped: no network (the vulnerability database did not answer within 300 s)")
        return True
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        if any(word in tail[0] for word in ("Connection", "resolve", "Max retries", "timed out")):
            print(f"pip-audit: skipped: no network ({tail[0][:160]})")
            return True
        print(f"pip-audit: FAILED to run: {tail[0][:300]}")
        return False
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for dependency in vulnerable:
        ids = ", ".join(v["id"] for v in dependency["vulns"])
        print(f"pip-audit: {dependency['name']} {dependency['version']}: {ids}")
    if vulnerable:
        print(f"pip-audit: FAILED: {len(vulnerable)} vulnerable package(s)")
        return False
    if dependencies and not audited:
        print(
            f"pip-audit: skipped: no network (none of the {len(dependencies)} packages could be looked up "
            "in the vulnerability database from this machine)"
        )
        return True
    print(
        f"pip-audit: no known vulnerabilities in {len(audited)} package(s) ({len(dependencies) - len(audited)} not found)"
    )
    return True


def main() -> int:
    bandit_ok = run_bandit()
    audit_ok = run_pip_audit()
    return 0 if bandit_ok and audit_ok else 1


if __name__ == "__main__":
    sys.exit(main())
