"""Store: engines and sessions, the supervision ledger, the read model and its statistics rollup,
idempotency keys, recomputation of deadlines, migrations.

It raises its own errors (``daiban.store.errors``) and speaks of a viewer's scope, never of HTTP.
It may import ``daiban.domain``, ``daiban.core``, ``models`` and (to signal them) ``workflows``.
"""
