"""``python -m crawler`` is ``docwatch``."""

from crawler.cli import main

main()
