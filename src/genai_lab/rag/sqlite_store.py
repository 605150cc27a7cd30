"""The one SQLite engine behind the course's disk caches (LLM answers and embeddings).

Both caches are LangChain's own classes on top of it: ``SQLAlchemyCache`` (the class behind
``langchain_community.cache.SQLiteCache``) for LLM answers, ``SQLStore`` under
``CacheBackedEmbeddings`` for vectors. ``SQLiteCache`` itself builds a bare engine whose writers give
up after 5 s and whose read-then-write transactions can fail with "database is locked" when two
notebooks write at once; :func:`sqlite_engine` fixes both: a long busy timeout, write-ahead logging
(readers never wait for a writer) and ``BEGIN IMMEDIATE`` (a transaction takes the write lock when it
starts, so it waits its turn instead of failing half-way).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine


def check_cache_name(name: str, what: str = "name") -> str:
    """A cache key that is also a file name: letters, digits, ``_``, ``.`` and ``-`` only."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise ValueError(f"{what} {name!r} must be a plain name like 'smollm2-greedy-96' (letters, digits, _ . -).")
    return name


def sqlite_engine(path: str | Path, timeout: float = 120.0) -> Engine:
    """An SQLAlchemy engine on the SQLite file ``path`` that is safe for several processes at once."""
    from sqlalchemy import create_engine, event

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{Path(path)}", connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are opened by _on_begin below
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
