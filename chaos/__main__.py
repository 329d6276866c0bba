"""``python -m chaos [--ci] [--requests N] [--seed S] [--json PATH] [--keep]``."""

from chaos.runner import main

main()
