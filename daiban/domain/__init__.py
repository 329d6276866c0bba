"""Domain: the working-day calendar, the catalog, the office tree, scope rules, resident
validation and masking, intake rules.

Pure: no database, no HTTP, no Temporal. It may import ``daiban.core`` and ``models``.
"""
