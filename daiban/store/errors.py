"""The store's own errors. The HTTP room maps each to a problem once (``daiban.http.problems``);
the store never speaks HTTP."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the errors a caller of the store is expected to handle."""


class InvalidQuery(StoreError):
    """A query parameter (a cursor, an idempotency key) the store cannot use, named by field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Contended(StoreError):
    """A row stayed contended by concurrent writers after every attempt; retrying later helps."""
