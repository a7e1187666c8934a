"""``python -m crawler`` is ``docwatch``."""

from crawler.cli import main

# Guarded: a worker process started with "spawn" imports this module again.
if __name__ == "__main__":
    main()
