"""Storage: engine and sessions, the schema, migrations, and the queries of each stage and page.

Imports nothing else of the app (every part may import it). Queries never commit.

The caller owns the transaction (``engine.transaction``): a stage stores mentions and
advances its cursor, or saves scores and creates drafts, and commits once. Everything
that must be idempotent under redelivery or concurrent workers is a single statement
guarded by a unique constraint (``INSERT ... ON CONFLICT DO NOTHING``) or a
compare-and-set (``UPDATE ... WHERE state IN (...)``), never read-then-write.

By stage: ``mentions`` (poll), ``scores``, ``drafts``, ``replies`` (send, and the sweep
of lost work), ``usage`` (cost and budgets), ``events`` (the audit log). By reader:
``inbox`` (the web inbox), ``aggregates`` (digests, alerts), ``backlog`` (metrics),
``memory`` (reply memory). ``sql`` holds what the queries share.
"""

from brandcare.store.engine import make_engine, session_factory, transaction

__all__ = ["make_engine", "session_factory", "transaction"]
