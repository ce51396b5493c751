"""``baraza keys ...``: where the installation's keys are, and replacing one (rotation).

* ``baraza keys check`` says where each key comes from (environment or key file), without
  showing it, and refuses an unsafe key file like ``baraza run`` does.
* ``baraza keys rotate cookie`` writes a new cookie key: every dashboard session ends when the
  workers restart.
* ``baraza keys rotate pseudonym`` writes a new pseudonym key and, in the same transaction,
  rewrites the ``respondent`` of every stored response under it; the old key stays in the key
  file as ``pseudonym_key_replaced`` (exports made before carry the old pseudonyms). Stop the
  workers first. When the key comes from the environment, give the new one on standard input
  (``--new-key-stdin``) and put it in the environment before restarting.

Each rotation is recorded in the audit trail.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot import keys
from bot.config import Settings
from common.clock import utc_now
from storage import audit
from storage.database import Database
from storage.pseudonyms import Pseudonymizer, key_fingerprint, repseudonymize
from storage.repositories import Repositories


def add_commands(commands: Any) -> None:
    """Register ``baraza keys ...`` on the top-level sub-parsers."""
    group = commands.add_parser("keys", help="the pseudonym and cookie keys: where they are, rotation")
    sub = group.add_subparsers(dest="keys_command", required=True)
    sub.add_parser("check", help="where each key comes from (never shows a key)")
    rotate = sub.add_parser("rotate", help="replace a key (stop the workers first)")
    rotate.add_argument("key", choices=["pseudonym", "cookie"])
    rotate.add_argument(
        "--new-key-stdin", action="store_true", help="read the new key from standard input (else one is generated)"
    )


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(settings, arguments))
    except keys.KeyFileError as error:
        print(f"baraza: {error}", file=sys.stderr)
        return 1


async def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    source = keys.KeySource.of(settings)
    database = Database(settings.database_url)
    try:
        await database.migrate()
        if arguments.keys_command == "check":
            return await _check(database, source)
        name = keys.PSEUDONYM_KEY if arguments.key == "pseudonym" else keys.COOKIE_KEY
        if source.given.get(name) and not arguments.new_key_stdin:
            print(
                f"baraza: the {arguments.key} key comes from {keys.ENVIRONMENT[name]}: give the new one with "
                "--new-key-stdin (e.g. openssl rand -hex 32), then put it in the environment",
                file=sys.stderr,
            )
            return 1
        new = sys.stdin.readline().strip() if arguments.new_key_stdin else keys.GENERATORS[name]()
        minimum = 16 if name == keys.PSEUDONYM_KEY else 32
        if len(new) < minimum or any(character.isspace() for character in new):
            print(f"baraza: the new key must have at least {minimum} characters and no spaces", file=sys.stderr)
            return 1
        return await _rotate(database, source, name, new)
    finally:
        await database.dispose()


async def _check(database: Database, source: keys.KeySource) -> int:
    stored = keys.read_key_file(source.key_file) if source.key_file is not None else {}
    for name in keys.KEYS:
        if source.given.get(name):
            where = f"the environment ({keys.ENVIRONMENT[name]})"
        elif name in stored:
            where = f"the key file {source.key_file}"
        else:
            where = f"nowhere yet: made in {source.key_file} at the first start"
        print(f"{name.replace('_', ' ')}: {where}")
    async with database.reading() as connection:
        settings = Repositories(connection).settings
        legacy = [name for name in keys.KEYS if await settings.get(keys.LEGACY_SETTINGS[name]) is not None]
    for name in legacy:
        print(f"{name.replace('_', ' ')}: still in the database (an earlier release); the next start moves it")
    return 0


async def _rotate(database: Database, source: keys.KeySource, name: str, new: str) -> int:
    from_environment = bool(source.given.get(name))
    if not from_environment and source.key_file is None:
        raise keys.KeyFileError("no key file to write the new key to: set BARAZA_KEY_FILE")
    old = await keys.installation_key(database, source, name)  # also moves a key left in the database
    if new == old:
        print("baraza: the new key is the key in use; nothing changed", file=sys.stderr)
        return 1
    async with database.transaction() as connection:
        changed = 0
        if name == keys.PSEUDONYM_KEY:
            changed = await repseudonymize(connection, Pseudonymizer(new))
            await Repositories(connection).settings.put(keys.FINGERPRINT_SETTING, key_fingerprint(new))
        await audit.record(
            connection,
            actor=audit.cli_actor(),
            action=audit.KEY_ROTATED,
            now=utc_now(),
            target=f"key:{name}",
            details={"responses_rewritten": changed if name == keys.PSEUDONYM_KEY else None},
        )
        if not from_environment:
            assert source.key_file is not None
            # Written before the commit: if writing fails, the database is left as it was.
            stored = keys.read_key_file(source.key_file)
            keys.write_key_file(source.key_file, {**stored, name: new, f"{name}_replaced": old})
    what = name.replace("_", " ")
    if name == keys.PSEUDONYM_KEY:
        print(f"{what} replaced: {changed} response(s) now carry pseudonyms under the new key")
        print("exports made before keep the old pseudonyms (the old key is kept as pseudonym_key_replaced)")
    else:
        print(f"{what} replaced: every dashboard session ends when the workers restart")
    if from_environment:
        print(f"now set {keys.ENVIRONMENT[name]} to the new key, then start the workers")
    else:
        print(f"written to {source.key_file}; start the workers again")
    return 0
