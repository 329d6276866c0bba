"""``python -m daiban.cli``: the same as the ``daiban`` command."""

from daiban.cli.main import main

main()
