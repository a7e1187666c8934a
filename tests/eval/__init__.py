"""The labelled evaluation set of stale skill lines, and its runner (``python -m tests.eval``)."""
