"""daiban: the workflow engine of a county's proxy service for residents.

The package is built in rooms, each allowed to import only the rooms below it (checked by
``lint-imports``, contracts in ``pyproject.toml``), top to bottom:

- ``daiban.cli``    the ``daiban`` command: commands, HTTP client, rendering, simulator;
- ``daiban.run``    process supervision, the development stack, start-up checks;
- ``daiban.console`` the web console at ``/``: pages for agents, staff, supervisors, residents;
- ``daiban.http``   routes, dependencies, auth, problems, rate limit, telemetry, codec endpoint;
- ``daiban.store``  engine and sessions, the ledger, read model, rollup, idempotency, migrations;
- ``daiban.domain`` calendar, catalog, office tree, scope, resident checks and masking — no I/O;
- ``daiban.core``   settings, logging, the payload codec and converter, the Temporal connection.

Beside the package: ``models/`` (contracts, tables, schemas, the action table), ``workflows/``
(deterministic workflow code), ``activities/`` (side effects), ``api.py`` and ``worker.py``.
"""
