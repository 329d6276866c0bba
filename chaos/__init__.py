"""Chaos testing of daiban (issue 6): faults injected into a running system while requests are in
flight, and the invariants that must survive them.

``python -m chaos`` (``make chaos``) runs the full form, ``python -m chaos --ci`` the bounded one
that CI runs through ``tests/chaos``. RELIABILITY.md describes the method and records a full run.
Modules: ``procs`` (the system as child processes), ``workload`` (the clients), ``checks`` (the
invariants), ``webhook`` (the messaging gateway, which can hang), ``runner`` (phases, faults,
command line), ``report`` (what a run found, and its tables).
"""
