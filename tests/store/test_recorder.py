"""The recorder's own parts: finding a source's pages under one package root."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from crawler.hexdocs import url_key
from crawler.store.db import open_database
from crawler.store.models import Page, Run, SourceState
from crawler.store.recorder import PagesByKey, SourceRecorder
from crawler.types import PageStatus, RunStatus

PAGES = [
    (1, "https://hexdocs.pm/phoenix/overview.html"),
    (2, "https://phoenix.hexdocs.pm/routing.html"),  # the subdomain form of phoenix
    (3, "https://hexdocs.pm/phoenix_live_view/welcome.html"),  # a name phoenix begins
    (4, "https://hexdocs.pm/phoenix/1.7.0/overview.html"),
    (5, "https://example.test/blog/post.html"),
    (6, "https://hexdocs.pm/ecto/Ecto.html"),
]
BUILT = "Tue, 01 Dec 2026 04:00:00 GMT"
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


def test_a_source_remembers_its_pages_then_hands_them_back_when_it_finishes(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    root = "https://glimmer.hexdocs.pm/"
    with Session(engine) as session, session.begin():
        session.add(Run(id=1, run_date=dt.date(2026, 12, 1), sources=["docs"],
                        status=RunStatus.COMPLETED))
        session.add(Run(id=2, run_date=dt.date(2026, 12, 2), sources=["docs"],
                        status=RunStatus.RUNNING))
        session.flush()
        session.add(SourceState(name="docs", kind="exdoc", baseline_run_id=1, last_run_id=1))
        for name, meta in (("guide", {}), ("release", {"version": "1.2.0"})):
            session.add(Page(source="docs", url=f"{root}{name}.html", first_seen_run_id=1,
                             last_seen_run_id=1, fetched_url=f"{root}{name}.html",
                             etag=f'"{name}"', last_modified=BUILT, meta=meta))
        session.add(Page(source="docs", url=f"{root}gone.html", first_seen_run_id=1,
                         last_seen_run_id=1, status=PageStatus.REMOVED, etag='"gone"'))
    recorder = SourceRecorder.open(engine, 2, "docs", "exdoc")

    # Asked under either hexdocs form, a page is the one stored; a removed page is not
    # active, and sends no validators.
    assert recorder.has_page("https://hexdocs.pm/glimmer/guide.html")
    assert not recorder.has_page(f"{root}gone.html")
    assert recorder.validators_for("https://hexdocs.pm/glimmer/guide.html").etag == '"guide"'
    assert recorder.validators_for(f"{root}gone.html") is None
    # One build's pages share their Last-Modified: one string for all of them.
    assert recorder.validators_for(f"{root}guide.html").last_modified == BUILT
    assert recorder.validators_for(f"{root}guide.html").last_modified \
        is recorder.validators_for(f"{root}release.html").last_modified
    facts = recorder.page_meta(f"{root}release.html")
    facts["version"] = "9.9.9"  # the caller's copy
    assert recorder.page_meta(f"{root}release.html") == {"version": "1.2.0"}
    assert recorder.page_meta(f"{root}guide.html") == {}

    recorder.finish()
    assert not recorder.memory.page_ids and not recorder.memory.known
    assert not recorder.memory.validators and recorder.tally.checked == 0
