"""Storage: engine and sessions, ORM models, queries, migrations.

Imports nothing else of brandcare. Queries never commit: the caller owns the
transaction (see ``engine.transaction``).
"""

from brandcare.store.engine import make_engine, session_factory, transaction

__all__ = ["make_engine", "session_factory", "transaction"]
