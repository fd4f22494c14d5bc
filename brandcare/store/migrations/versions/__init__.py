"""The schema's revisions, one a file, oldest first; each upgrades and downgrades one step.

Imports Alembic and SQLAlchemy only, never the models: a revision is frozen as written.
"""
