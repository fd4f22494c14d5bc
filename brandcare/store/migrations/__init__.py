"""Alembic's environment (``env.py``) and the schema's revisions, run by ``store.migrate``.

May import the store's engine and models only; nothing imports it (Alembic loads it by path).
"""
