"""``python -m bench [--quick | --smoke]``: see bench/__init__.py and BENCHMARKS.md."""

from bench.run import main

if __name__ == "__main__":
    main()
