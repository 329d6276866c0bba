"""CLI: the ``daiban`` command (``main``), its HTTP client, its rendering and the simulator.

The top room: it may import every other room; nothing imports it.
"""
