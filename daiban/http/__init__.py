"""HTTP: the API's routes, dependencies, bearer auth, problem details, rate limit, telemetry and
the codec endpoint. ``api.py`` at the top level assembles them into the app.

It may import the store, the domain, the core, ``models`` and ``workflows`` (for names only).
"""
