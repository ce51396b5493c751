"""Cheap password hashes for tests that count sign-in checks, locks and limits rather than the
hash's cost: argon2's own testing profile instead of its defaults (~0.1 s a check on a quiet
machine, ~0.7 s on a loaded one; some tests check forty)."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from bot.admin import site
from storage import staff


def use_cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """New accounts and the dummy hash (checked for unknown names) use argon2's testing profile,
    and a refused sign-in first waits as long as making that hash took, as storage/staff.py
    measures its own. A hash stored otherwise is still checked by its own parameters."""
    hasher = PasswordHasher.from_parameters(CHEAPEST)
    started = time.perf_counter()
    cheap = staff.DummyHash(hasher.hash("nothing"), time.perf_counter() - started)
    monkeypatch.setattr(staff, "dummy_hash", lambda: cheap)
    monkeypatch.setattr(site, "dummy_hash", lambda: cheap)
    monkeypatch.setattr(staff, "_hasher", hasher)


@pytest.fixture
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`use_cheap_password_hashes` for the test."""
    use_cheap_password_hashes(monkeypatch)
