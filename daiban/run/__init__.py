"""Run: child-process supervision, the development stack (``daiban run``), start-up checks.

It may import everything below it (HTTP for minting development tokens); never the CLI.
"""
