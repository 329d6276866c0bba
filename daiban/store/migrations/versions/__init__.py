"""Alembic revision scripts, applied in order by ``daiban.store.db.upgrade``."""
