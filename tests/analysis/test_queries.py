"""What the report holds of every current page (vocabularies, notices): each value once."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc

from conftest import exdoc_page
from sqlalchemy import delete, insert, text, update
from sqlalchemy.orm import Session

from crawler.analysis.queries import _Current, docs_facts, sidebar_groups
from crawler.config import load_config
from crawler.demo.server import DocServer
from crawler.notices import Notice
from crawler.pipeline import crawl
from crawler.store.db import open_database
from crawler.store.models import AnalysisCacheEntry, Page, Run, Snapshot, SourceState
from crawler.types import NoticeKind, PageStatus, RunStatus, TermKind
from crawler.vocab import Term


def decoded(terms: list[str]) -> list[str]:
    """The terms as a page's row gives them: decoded anew, strings of their own."""
    decoded_terms: list[str] = json.loads(json.dumps(terms))
    return decoded_terms


def test_packages_teaching_the_same_terms_share_one_set_of_the_same_strings():
    current = _Current(None, vocabulary=False)
    terms = ["Glimmer.Palette.blend/3", "mix glimmer.gen", ":ok"]
    for package in ("glimmer", "glimmer_extra"):
        current.add(f"https://hexdocs.pm/{package}/blending.html", "docs", True,
                    decoded(terms))
    current.add("https://hexdocs.pm/glimmer_extra/changelog.html", "docs", True,
                decoded(["Glimmer.Extra.glow/1"]), changelog=True)
    current.end_package()
    taught, guides = current.taught, current.guides

    assert taught["glimmer"] == set(terms)
    assert taught["glimmer_extra"] == {*terms, "Glimmer.Extra.glow/1"}
    # glimmer's pages and guides, and glimmer_extra's guides: one set held, not three.
    assert taught["glimmer"] is guides["glimmer"] is guides["glimmer_extra"]
    held = {id(term) for vocabulary in (*taught.values(), *guides.values())
            for term in vocabulary}
    assert len(held) == 4  # each distinct term once, however many pages decoded it


def test_a_package_whose_pages_are_apart_teaches_all_of_them():
    # By URL, one package's pages in its two hexdocs forms are apart: the later ones
    # add to what the first taught.
    current = _Current(None, vocabulary=False)
    current.add("https://glimmer.hexdocs.pm/blending.html", "docs", True, ["blend/3"])
    current.add("https://glimmer.hexdocs.pm/changelog.html", "docs", True, ["glow/1"],
                changelog=True)
    current.add("https://hexdocs.pm/aurora/intro.html", "docs", True, [])
    current.add("https://hexdocs.pm/glimmer/mixing.html", "docs", True, ["mix/3"])
    current.end_package()

    assert current.taught == {"glimmer": {"blend/3", "glow/1", "mix/3"}, "aurora": set()}
    assert current.guides == {"glimmer": {"blend/3", "mix/3"}, "aurora": set()}


NOTICE = ("<p><code class=\"inline\">Glimmer.Palette.blend/3</code> is deprecated, "
          "use <code class=\"inline\">Glimmer.Palette.mix/3</code> instead.</p>")


def test_a_notice_two_pages_give_is_held_once_from_the_first_page(tmp_path, database_url):
    # Notices repeat across pages (and across the copies of a package): the report
    # holds the first of each, not one per page.
    folder = tmp_path / "v1" / "hexdocs.pm" / "glimmer"
    (folder / "dist").mkdir(parents=True)
    (folder / "index.html").write_text(
        '<meta http-equiv="refresh" content="0; url=blending.html">')
    pages = ("blending", "mixing")
    extras = ",".join(f'{{"id":"{p}","title":"{p.title()}","group":""}}' for p in pages)
    (folder / "dist" / "sidebar_items-ABC.js").write_text(
        f'sidebarNodes={{"extras":[{extras}],"modules":[],"tasks":[]}}')
    for page in pages:
        (folder / f"{page}.html").write_text(
            exdoc_page(page.title(), f"<h1>{page.title()}</h1><h2 id='a'>A</h2>{NOTICE}"))
    config = tmp_path / "sources.yaml"
    with DocServer(root=tmp_path, version="v1") as site:
        config.write_text(f"report: {{title: T, dir: out}}\nhttp: {{attempts: 1}}\n"
                          f"sources:\n  - name: docs\n    kind: exdoc\n"
                          f"    urls: [{site.base_url}/hexdocs.pm/glimmer/]\n")
        engine = open_database(database_url)
        try:
            assert crawl(load_config(config), date=dt.date(2025, 6, 2),
                         engine=engine).errors == 0
            facts = docs_facts(engine, ["docs"])
        finally:
            engine.dispose()
    assert [(n.url.rsplit("/", 1)[1], n.notice.term.text) for n in facts.notices] == [
        ("blending.html", "Glimmer.Palette.blend/3")]


def store_pages(engine, pages: list[tuple[str, list[str], list[Notice]]]) -> None:
    """A completed run of the source ``docs`` that saw these pages: (URL, vocabulary,
    notices)."""
    with Session(engine) as session, session.begin():
        run = Run(run_date=dt.date(2025, 6, 2), sources=["docs"], status=RunStatus.COMPLETED)
        session.add(run)
        session.flush()
        session.add(SourceState(name="docs", kind="exdoc", last_run_id=run.id))
        for url, terms, page_notices in pages:
            page = Page(source="docs", url=url, first_seen_run_id=run.id,
                        last_seen_run_id=run.id)
            session.add(page)
            session.flush()
            snapshot = Snapshot(page_id=page.id, run_id=run.id, content_hash="h" * 64,
                                content=url, fetched_url=url, terms=terms,
                                notices=[n.as_dict() for n in page_notices])
            session.add(snapshot)
            session.flush()
            page.latest_snapshot_id = snapshot.id


def test_the_guides_overrule_an_old_changelog_deprecation_whatever_form_their_urls_are_in(
        database_url):
    # Mid-move, a package's guides may be in the path form while its changelog is
    # already in the subdomain form, with another package between them by URL: the
    # package's notices are judged once all its pages are read, not a part at a time.
    blend = Term("Glimmer.Palette.blend/3", TermKind.FUNCTION)
    tint = Term("Glimmer.Palette.tint/2", TermKind.FUNCTION)
    old = Notice(blend, NoticeKind.DEPRECATED, "v1.1.0", "`blend/3` is deprecated.",
                 version="1.1.0")
    new = Notice(tint, NoticeKind.DEPRECATED, "v1.2.0", "`tint/2` is deprecated.",
                 version="1.2.0")
    engine = open_database(database_url)
    try:
        store_pages(engine, [
            ("https://glimmer.hexdocs.pm/changelog.html", [], [old, new]),
            ("https://hexdocs.pm/fable/readme.html", ["function:Fable.tell/1"], []),
            ("https://hexdocs.pm/glimmer/blending.html", ["function:Glimmer.Palette.blend/3"],
             [])])
        facts = docs_facts(engine, ["docs"])
    finally:
        engine.dispose()
    assert [n.notice.term for n in facts.notices] == [tint]


def test_the_first_notice_of_a_term_is_the_same_whatever_the_collation_of_the_urls(
        database_url):
    # A PostgreSQL database whose default collation skips punctuation sorts
    # ".../glimmer10/a" before ".../glimmer1/b": by URL the packages interleave and
    # another package's notice would come first. The scans go byte by byte everywhere.
    dim = Term("Sparkle.dim/1", TermKind.FUNCTION)

    def deprecated(version: str) -> Notice:
        return Notice(dim, NoticeKind.DEPRECATED, f"v{version}", "`dim/1` is deprecated.",
                      version=version)

    engine = open_database(database_url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("CREATE COLLATION shifted "
                                        "(provider = icu, locale = 'und-u-ka-shifted')"))
                connection.execute(text(
                    'ALTER TABLE pages ALTER COLUMN url TYPE varchar(2000) COLLATE shifted'))
                assert connection.execute(text(
                    "SELECT 'https://hexdocs.pm/glimmer10/a.html' COLLATE shifted"
                    " < 'https://hexdocs.pm/glimmer1/b.html' COLLATE shifted")).scalar()
        store_pages(engine, [
            ("https://hexdocs.pm/glimmer10/a.html", [], [deprecated("10.0.0")]),
            ("https://hexdocs.pm/glimmer1/b.html", [], [deprecated("1.0.0")]),
            ("https://hexdocs.pm/glimmer1/c.html", [], [])])
        facts = docs_facts(engine, ["docs"])
    finally:
        engine.dispose()
    assert [(n.url, n.notice.version) for n in facts.notices] == [
        ("https://hexdocs.pm/glimmer1/b.html", "1.0.0")]


def add_guide_pages(engine, first: int, count: int) -> None:
    """``count`` more current guide pages of one package, from page id ``first``, each
    with one snapshot (of the same id) that names nothing: written as rows, not crawled."""
    ids = range(first, first + count)
    with engine.begin() as connection:
        if first == 1:
            connection.execute(insert(Run), [{"id": 1, "run_date": dt.date(2025, 6, 2),
                                              "sources": ["docs"],
                                              "status": RunStatus.COMPLETED}])
            connection.execute(insert(SourceState), [{"name": "docs", "kind": "exdoc",
                                                      "last_run_id": 1}])
        connection.execute(insert(Page), [
            {"id": i, "source": "docs", "url": f"https://hexdocs.pm/glimmer/guide-{i}.html",
             "first_seen_run_id": 1, "last_seen_run_id": 1} for i in ids])
        connection.execute(insert(Snapshot), [
            {"id": i, "page_id": i, "run_id": 1, "content_hash": f"{i:064}", "content": "",
             "fetched_url": f"https://hexdocs.pm/glimmer/guide-{i}.html", "terms": [],
             "notices": []} for i in ids])
        connection.execute(update(Page).where(Page.id.in_(list(ids)))
                           .values(latest_snapshot_id=Page.id))


def report_peak(engine) -> int:
    """The peak of Python memory (bytes) while the report's facts are worked out anew
    (nothing read back from an earlier report)."""
    with engine.begin() as connection:
        connection.execute(delete(AnalysisCacheEntry))
    tracemalloc.start()
    try:
        docs_facts(engine, ["docs"])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_report_reads_the_pages_a_batch_at_a_time_whatever_their_number(database_url):
    # 200,000 pages read whole by one statement were 90 MB of a report that works its
    # facts out (a night whose pages changed). Pages that name nothing add nothing to
    # hold: three times the pages, the same peak (within what a batch of rows takes).
    engine = open_database(database_url)
    try:
        add_guide_pages(engine, 1, 5000)
        report_peak(engine)  # the first fills the caches of URLs read
        smaller = report_peak(engine)
        add_guide_pages(engine, 5001, 10000)
        larger = report_peak(engine)
    finally:
        engine.dispose()
    assert larger - smaller < 1_000_000, (smaller, larger)


def test_the_sidebar_groups_read_are_those_of_the_pages_near_the_places_asked(database_url):
    # A night's changes need the pages of their own group under their own folder, not
    # every page of every package.
    engine = open_database(database_url)
    pages = [("https://hexdocs.pm/glimmer/blending.html", "Guides"),
             ("https://hexdocs.pm/glimmer/deep/mixing.html", "Guides"),
             ("https://hexdocs.pm/glimmer/api.html", "Reference"),
             ("https://hexdocs.pm/glimmer_extra/glow.html", "Guides"),
             ("https://hexdocs.pm/aurora/sky.html", "Guides"),
             ("https://hexdocs.pm/glimmer/old.html", "Guides")]
    try:
        with Session(engine) as session, session.begin():
            session.add(Run(id=1, run_date=dt.date(2026, 12, 1), sources=["docs"],
                            status=RunStatus.COMPLETED))
            session.flush()
            for url, group in pages:
                session.add(Page(source="docs", url=url, group=group, first_seen_run_id=1,
                                 last_seen_run_id=1, status=PageStatus.REMOVED
                                 if url.endswith("old.html") else PageStatus.ACTIVE))
        found = sidebar_groups(engine, [("https://hexdocs.pm/glimmer/", "Guides"),
                                        ("https://hexdocs.pm/aurora/", "Reference")])
        assert sidebar_groups(engine, []) == {}
    finally:
        engine.dispose()

    assert found == {"https://hexdocs.pm/glimmer/blending.html": "Guides",
                     "https://hexdocs.pm/glimmer/deep/mixing.html": "Guides"}
