"""Alembic migrations of the daiban database (run them with ``daiban db upgrade``)."""
