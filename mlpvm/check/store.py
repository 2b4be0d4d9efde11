"""A campaign's store: an SQLite file that holds the campaign and the result of every shard as it finishes,
each in its own transaction, so a campaign stopped at any moment (Ctrl-C, a killed process, a lost machine)
keeps every shard it finished and ``--resume`` runs only the others.

Inspect one with the sqlite3 shell: ``select shard, result from shards``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mlpvm.check.campaign import Campaign, differs, to_json
from mlpvm.errors import ConfigError

SCHEMA = """
create table if not exists campaign (spec text not null, seconds real not null default 0);
create table if not exists shards (shard integer primary key, result text not null);
"""


class Store:
    """The shards of one campaign. ``path`` None keeps them in memory only (a campaign run without
    ``--store``: nothing to resume)."""

    def __init__(self, campaign: Campaign, path: str | None = None, resume: bool = False):
        self.path = path
        if path is not None and Path(path).is_dir():
            raise ConfigError(f"{path}: is a directory, not a campaign store")
        if path is not None and not Path(path).absolute().parent.is_dir():
            raise ConfigError(f"{path}: no such directory")
        try:
            self.db = sqlite3.connect(path or ":memory:", isolation_level=None)
            tables = {name for (name,) in self.db.execute("select name from sqlite_master where type = 'table'")}
            if tables - {"campaign", "shards"}:  # another program's database: leave it alone
                raise ConfigError(f"{path}: not a campaign store (it has tables {', '.join(sorted(tables))})")
            self.db.executescript(SCHEMA)
            row = self.db.execute("select spec, seconds from campaign").fetchone()
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{path}: not a campaign store ({e})") from None
        if row is None:
            self.db.execute("insert into campaign (spec) values (?)", (to_json(campaign),))
            self.seconds = 0.0
        elif (diff := differs(row[0], campaign)) is not None:
            raise ConfigError(f"{path} holds another campaign ({diff}); give another --store, or its options")
        elif not resume:
            raise ConfigError(f"{path} already holds this campaign: add --resume to continue it, or remove the file")
        else:
            self.seconds = row[1]

    def results(self) -> dict[int, dict]:
        """The finished shards, by number."""
        return {shard: json.loads(text) for shard, text in self.db.execute("select shard, result from shards")}

    def add(self, shard: int, result: dict, seconds: float) -> None:
        """A finished shard, and the campaign's time so far (over every run that worked on it)."""
        with self.db:
            self.db.execute("begin")
            self.db.execute("insert or replace into shards values (?, ?)", (shard, json.dumps(result)))
            self.db.execute("update campaign set seconds = ?", (seconds,))

    def close(self) -> None:
        self.db.close()
