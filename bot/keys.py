"""The installation's secret keys: from the environment or a key file, never the database.

Two keys are the installation's own: the **pseudonym key** (``BARAZA_PSEUDONYM_KEY``: the
``respondent`` and ``person`` columns of exports are HMACs under it) and the **cookie key**
(``BARAZA_COOKIE_KEY``: the dashboard's session cookies are signed with it). Each comes from the
environment when set there, else from the **key file** (``privacy.key_file`` /
``BARAZA_KEY_FILE``, default ``data/baraza.keys``): ``NAME = VALUE`` lines, readable by its owner
only. A key file that group or others may read is refused (the bot does not start), and a key
missing from both is generated once and written to the key file (created 0600).

Earlier releases kept generated keys in plain text in the database (``instance_settings``); the
first start of this release moves them into the key file and deletes them from the database. The
database keeps only a fingerprint of the pseudonym key, so that a worker started with another key
refuses to start instead of writing pseudonyms that match nothing. ``baraza keys rotate``
replaces a key (see docs/security.md).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import logging
import os
import re
import secrets
import stat
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.config import Settings
from common.errors import BarazaError
from storage.database import Database
from storage.pseudonyms import Pseudonymizer, key_fingerprint, new_pseudonym_key
from storage.repositories import InstanceSettings, Repositories

log = logging.getLogger(__name__)

PSEUDONYM_KEY, COOKIE_KEY, VAPID_KEY = "pseudonym_key", "cookie_key", "vapid_private_key"
KEYS = (PSEUDONYM_KEY, COOKIE_KEY, VAPID_KEY)
ENVIRONMENT = {
    PSEUDONYM_KEY: "BARAZA_PSEUDONYM_KEY",
    COOKIE_KEY: "BARAZA_COOKIE_KEY",
    VAPID_KEY: "BARAZA_VAPID_PRIVATE_KEY",
}
#: The ``instance_settings`` rows in which earlier releases kept each key in plain text (the
#: VAPID key of browser notifications is newer than that: no row ever holds it).
LEGACY_SETTINGS = {PSEUDONYM_KEY: "pseudonym_key", COOKIE_KEY: "admin_cookie_key", VAPID_KEY: "vapid_private_key"}
#: The ``instance_settings`` row with the fingerprint of the pseudonym key.
FINGERPRINT_SETTING = "pseudonym_key_fingerprint"
_LINE = re.compile(r"^([a-z_]+)\s*=\s*(\S+)\s*$")


class KeyFileError(BarazaError):
    """A key cannot be read or used (unsafe key file, wrong key for this database); the
    message says what to do."""


def read_key_file(path: Path) -> dict[str, str]:
    """The keys of ``path`` (none if it does not exist); refuses a file others may read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: the key file can be read by other users (mode {mode:o}); "
            f"run 'chmod 600 {path}' (Baraza does not start with it like this)"
        )
    keys: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _LINE.match(line.strip())
        if found is None:
            raise KeyFileError(f"{path}:{number}: expected 'name = value' (the value without spaces)")
        keys[found.group(1)] = found.group(2)
    return keys


def write_key_file(path: Path, keys: Mapping[str, str]) -> None:
    """Write ``keys`` to ``path`` (mode 0600) all at once: a new file renamed over the old one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write("# Baraza's secret keys: keep this file 0600, back it up apart from the database.\n")
        for name, value in keys.items():
            out.write(f"{name} = {value}\n")
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def new_cookie_key() -> str:
    return secrets.token_hex(32)


def new_vapid_key() -> str:
    """A new VAPID key (RFC 8292) for browser notifications: a P-256 private key, its 32-byte
    scalar in unpadded base64url (the form pywebpush and the ``BARAZA_VAPID_PRIVATE_KEY`` take)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def vapid_public_key(private_key: str) -> str:
    """The public key of a VAPID private key as the page's ``applicationServerKey`` wants it: the
    uncompressed point (65 bytes) in unpadded base64url. Raises :class:`KeyFileError` for a key
    that is not one."""
    try:
        raw = base64.urlsafe_b64decode(private_key + "=" * (-len(private_key) % 4))
        key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError) as error:
        raise KeyFileError(
            f"the VAPID key is not a P-256 private key in base64url ({ENVIRONMENT[VAPID_KEY]})"
        ) from error
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64url(point)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


GENERATORS = {PSEUDONYM_KEY: new_pseudonym_key, COOKIE_KEY: new_cookie_key, VAPID_KEY: new_vapid_key}


@dataclass(frozen=True)
class KeySource:
    """Where the keys come from: values given by the environment (or configuration), then the key file."""

    given: Mapping[str, str | None]
    key_file: Path | None

    @classmethod
    def of(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> KeySource:
        given = {PSEUDONYM_KEY: settings.pseudonym_key, COOKIE_KEY: settings.cookie_key}
        given[VAPID_KEY] = (os.environ if environ is None else environ).get(ENVIRONMENT[VAPID_KEY])
        return cls(given, settings.key_file)


async def installation_key(database: Database, source: KeySource, name: str) -> str:
    """The key ``name``: given, else from the key file, else moved there from the database of an
    earlier release, else generated into the key file. Raises :class:`KeyFileError` when there is
    nowhere to keep a key, the key file is unsafe, or the pseudonym key is not this database's.

    Workers starting together on one machine take turns (a lock file beside the key file), so
    they all end up with the one key the first of them wrote."""
    given = source.given.get(name) or None
    # A key the environment gives needs no key file, nor its lock (a read-only disk is fine).
    async with _locked(None if given else source.key_file):
        stored = read_key_file(source.key_file) if source.key_file is not None else {}
        value = given or stored.get(name)
        async with database.transaction() as connection:
            settings = Repositories(connection).settings
            legacy = await settings.get(LEGACY_SETTINGS[name])
            if legacy is not None:
                if legacy != value:
                    # Moved into the key file (as the key, or kept beside the one in use for an
                    # office that needs it), never thrown away.
                    if source.key_file is None:
                        raise KeyFileError(
                            f"the {name.replace('_', ' ')} is kept in plain text in the database; "
                            "give a key file (BARAZA_KEY_FILE) so that Baraza can move it there"
                        )
                    kept = f"{name}_replaced" if value is not None else name
                    write_key_file(source.key_file, {**stored, kept: legacy})
                    value = value or legacy
                    log.warning("the %s was moved from the database into the key file", name.replace("_", " "))
                await settings.remove(LEGACY_SETTINGS[name])
            if value is None:
                if source.key_file is None:
                    raise KeyFileError(f"no {name.replace('_', ' ')}: set {ENVIRONMENT[name]} or give a key file")
                value = GENERATORS[name]()
                write_key_file(source.key_file, {**read_key_file(source.key_file), name: value})
                log.info("a new %s was written to the key file", name.replace("_", " "))
            if name == PSEUDONYM_KEY:
                await _check_fingerprint(settings, value)
    return value


@contextlib.asynccontextmanager
async def _locked(key_file: Path | None) -> AsyncIterator[None]:
    """An exclusive lock on ``KEY_FILE.lock`` (nothing without a key file), waited for in a
    thread: another holder may be this very process (two first dashboard requests at once)."""
    if key_file is None:
        yield
        return
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(key_file.with_name(key_file.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


async def _check_fingerprint(settings: InstanceSettings, key: str) -> None:
    known = await settings.get(FINGERPRINT_SETTING)
    if known is None:
        await settings.put(FINGERPRINT_SETTING, key_fingerprint(key))
    elif known != key_fingerprint(key):
        raise KeyFileError(
            "this pseudonym key is not the one the pseudonyms in this database were made with: "
            "give the installation's key (BARAZA_PSEUDONYM_KEY or the key file), or change it with "
            "'baraza keys rotate pseudonym'"
        )


async def load_pseudonymizer(database: Database, source: KeySource) -> Pseudonymizer:
    """The pseudonymizer of the installation's pseudonym key."""
    return Pseudonymizer(await installation_key(database, source, PSEUDONYM_KEY))


#: The cookie key of a dashboard or web chat made in code without keys (tests): this process's
#: own, one for both, so a key given to neither signs alike in each.
PROCESS_COOKIE_KEY = secrets.token_hex(32).encode()


async def load_cookie_key(database: Database, source: KeySource) -> bytes:
    return (await installation_key(database, source, COOKIE_KEY)).encode()


async def load_vapid_key(database: Database, source: KeySource) -> str:
    """The VAPID private key that signs browser notifications (generated into the key file once)."""
    key = await installation_key(database, source, VAPID_KEY)
    vapid_public_key(key)  # refuses a malformed key now, not at the first notice
    return key
