"""The recorder's own parts: finding a source's pages under one package root."""

from __future__ import annotations

from crawler.hexdocs import url_key
from crawler.store.recorder import PagesByKey

PAGES = [
    (1, "https://hexdocs.pm/phoenix/overview.html"),
    (2, "https://phoenix.hexdocs.pm/routing.html"),  # the subdomain form of phoenix
    (3, "https://hexdocs.pm/phoenix_live_view/welcome.html"),  # a name phoenix begins
    (4, "https://hexdocs.pm/phoenix/1.7.0/overview.html"),
    (5, "https://example.test/blog/post.html"),
    (6, "https://hexdocs.pm/ecto/Ecto.html"),
]
SCOPES = ["https://hexdocs.pm/phoenix/", "https://phoenix.hexdocs.pm/",
          "https://hexdocs.pm/phoenix/1.7.0/", "https://hexdocs.pm/phoenix_live_view/",
          "https://example.test/", "https://hexdocs.pm/absinthe/", "https://hexdocs.pm/"]


def test_the_pages_under_a_scope_are_those_whose_identity_it_begins():
    pages = PagesByKey(PAGES)
    for scope in SCOPES:
        expected = {page for page in PAGES if url_key(page[1]).startswith(url_key(scope))}
        assert set(pages.under(scope)) == expected, scope
    assert {i for i, _ in pages.under("https://hexdocs.pm/phoenix/")} == {1, 2, 4}
    assert pages.under("https://hexdocs.pm/absinthe/") == []
