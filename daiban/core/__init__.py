"""Core: settings, logging, the payload codec and converter, the Temporal connection.

What every other room may use. It imports only ``models`` and third-party libraries.
"""
