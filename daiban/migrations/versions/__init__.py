"""Alembic revision scripts, applied in order by ``daiban.db.upgrade``."""
