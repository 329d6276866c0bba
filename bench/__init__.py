"""Benchmarks of daiban on one machine: ``python -m bench [--quick | --smoke]`` (``make bench``).

Each run starts its own Temporal dev server, PostgreSQL databases, worker and API, measures six
things, prints a table and writes the same figures to ``var/bench/<timestamp>.json``:

1. lifecycle throughput through the API against a bare workflow (``lifecycle``, ``bare``);
2. API latency at a fixed offered load (``latency``);
3. cost as open work grows (``openwork``);
4. read-model queries at scale on PostgreSQL (``readmodel``);
5. escalation punctuality (``escalation``);
6. the supervisor's board's queries at a million read-model rows (``board``; its SQLite file is
   kept under ``var/bench/`` and reused while the schema stays the same).

Figures are ratios to a baseline measured in the same run where a baseline exists. BENCHMARKS.md
holds the method, the figures of a full run and the targets.
"""
