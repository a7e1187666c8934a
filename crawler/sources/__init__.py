"""Source kinds, found by the name used as ``kind:`` in sources.yaml.

A new kind is a new module with a class implementing :class:`~crawler.sources.base.Source`
and one line here.
"""

from crawler.sources.base import Source
from crawler.sources.exdoc import ExdocSource
from crawler.sources.feed import FeedSource
from crawler.sources.hexpm import HexpmSource
from crawler.sources.page import PageSource

SOURCE_KINDS: dict[str, type[Source]] = {
    source.kind: source for source in (ExdocSource, FeedSource, HexpmSource, PageSource)
}


def make_source(config) -> Source:
    """Instantiate the source class registered for ``config.kind``."""
    return SOURCE_KINDS[config.kind](config)


__all__ = ["SOURCE_KINDS", "Source", "make_source"]
