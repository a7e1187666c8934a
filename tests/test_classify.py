"""The classify step on its own: what a result means for the page it is about.

No database and no server: each test states what the store holds of a page, hands
the classifier what a source yielded, and reads the decision the store would apply.
"""

from __future__ import annotations

import datetime as dt

from crawler.classify import (
    MIN_INDEX_SIZE,
    Accepted,
    ChangeRecord,
    Counts,
    HeldBack,
    KnownPage,
    SnapshotRef,
    StoredPage,
    StoredSnapshot,
    Suspicion,
    classify_document,
    classify_failure,
    classify_listing,
    classify_unchanged,
    is_missing,
    next_streak,
    only_seen,
)
from crawler.config import AlertsConfig
from crawler.extract import content_hash
from crawler.http import Validators
from crawler.sources.base import Document, Failure, Listing, Unchanged
from crawler.types import ChangeKind, Item, PageStatus

ALERTS = AlertsConfig()  # shrink below 25 %, index below 50 %, confirmed on 3 runs
URL = "https://quill.hexdocs.pm/queues.html"
# A guide long enough for its size to mean something.
GUIDE = "# Queues\n\n" + "\n\n".join(
    f"Paragraph {i}: a queue has a name and a limit of jobs running at once on a node."
    for i in range(12)) + "\n"
LOGIN_WALL = "# Sign in\n\nPlease sign in to continue.\n"


def snapshot(text: str, representation: str = "html") -> StoredSnapshot:
    return StoredSnapshot(content_hash(text), text, len(text), representation)


def stored(text: str = GUIDE, **kwargs) -> StoredPage:
    return StoredPage(URL, latest=snapshot(text), **kwargs)


def document(text: str = GUIDE, **kwargs) -> Document:
    return Document(URL, kwargs.pop("title", "Queues"), text, URL, **kwargs)


def decide(page: StoredPage | None, doc: Document, baseline: bool = False,
           alerts: AlertsConfig = ALERTS):
    return classify_document(page, doc, content_hash(doc.text), baseline=baseline,
                             alerts=alerts)


# -- documents ------------------------------------------------------------------------


def test_a_new_page_is_reported_added_with_its_new_snapshot():
    decision = decide(None, document())
    assert decision == Accepted(
        snapshot=True, moved_to=None, aux_validators={},
        changes=(ChangeRecord(ChangeKind.ADDED, "new page: Queues", new=SnapshotRef.WRITTEN),),
        counts=Counts(checked=1, changed=1))


def test_the_baseline_records_a_new_page_without_reporting_it():
    decision = decide(None, document(), baseline=True)
    assert isinstance(decision, Accepted)
    assert decision.snapshot and decision.changes == ()
    assert decision.counts == Counts(checked=1, unchanged=1)


def test_a_modified_page_is_reported_with_its_section_diff():
    new_text = GUIDE + "\n## Pausing\n\nA paused queue starts no job until it is resumed.\n"
    decision = decide(stored(), document(new_text))
    assert isinstance(decision, Accepted) and decision.snapshot
    (change,) = decision.changes
    assert change.kind == ChangeKind.MODIFIED
    assert (change.old, change.new) == (SnapshotRef.STORED, SnapshotRef.WRITTEN)
    assert change.summary == "+2 -0 lines in 1 section(s)"
    assert change.details["sections"] == ["Pausing"]
    assert "A paused queue" in change.details["added_text"]
    assert "before" not in change.details  # a guide page has no facts to compare
    assert decision.counts == Counts(checked=1, changed=1)


def test_a_modified_release_records_its_facts_before_the_change():
    before = {"package": "lantern", "version": "1.4.2", "retired": None}
    after = {**before, "retired": {"reason": "security", "message": ""}}
    page = StoredPage(URL, meta=before, latest=snapshot("# lantern 1.4.2\n", "json"))
    decision = decide(page, document("# lantern 1.4.2\n\nretired: security\n",
                                     item=Item.RELEASE, meta=after, representation="json"))
    assert isinstance(decision, Accepted)
    assert decision.changes[0].details["before"] == before


def test_a_new_representation_is_noted():
    decision = decide(stored(), document(GUIDE + "More.\n", representation="markdown"))
    assert isinstance(decision, Accepted)
    assert decision.changes[0].details["representation"] == "html → markdown"


def test_the_same_hash_is_unchanged_and_writes_no_snapshot():
    decision = decide(stored(), document())
    assert decision == Accepted(snapshot=False, moved_to=None, aux_validators={}, changes=(),
                                counts=Counts(checked=1, unchanged=1))


def test_a_removed_page_listed_again_with_the_same_text_is_added_back():
    decision = decide(stored(status=PageStatus.REMOVED), document())
    assert isinstance(decision, Accepted) and not decision.snapshot
    assert decision.changes == (ChangeRecord(ChangeKind.ADDED, "listed again",
                                             new=SnapshotRef.STORED),)
    assert decision.counts == Counts(checked=1, unchanged=1)


def test_a_removed_page_back_with_new_text_is_added_with_its_diff():
    decision = decide(stored(status=PageStatus.REMOVED), document(GUIDE + "New line.\n"))
    assert isinstance(decision, Accepted)
    (change,) = decision.changes
    assert change.kind == ChangeKind.ADDED and change.details["lines_added"] == 1


def test_only_validators_with_a_value_are_kept_for_the_other_urls():
    md = ("https://quill.hexdocs.pm/queues.md", Validators('"md"'))
    empty = ("https://quill.hexdocs.pm/other.md", Validators())
    decision = decide(stored(), document(aux_validators=(md, empty)))
    assert isinstance(decision, Accepted)
    assert decision.aux_validators == {md[0]: md[1]}


# -- text that suddenly shrank --------------------------------------------------------


def test_text_that_suddenly_shrank_is_held_back_as_a_probable_breakage():
    decision = decide(stored(), document(LOGIN_WALL))
    assert decision == HeldBack(
        Suspicion(content_hash(LOGIN_WALL), 1),
        f"probable breakage: the text shrank from {len(GUIDE)} to {len(LOGIN_WALL)} "
        "characters (a login wall, a cookie banner or a selector that stopped matching?); "
        "the last good snapshot is kept (run 1 of 3 before it is accepted)")
    assert decision.counts == Counts(checked=1, errors=1)


def test_the_same_shrunken_text_counts_its_runs_then_is_accepted():
    held = Suspicion(content_hash(LOGIN_WALL), 1)
    second = decide(stored(suspicion=held), document(LOGIN_WALL))
    assert isinstance(second, HeldBack) and second.suspicion.runs == 2
    assert "(run 2 of 3" in second.error

    third = decide(stored(suspicion=second.suspicion), document(LOGIN_WALL))
    assert isinstance(third, Accepted)  # confirmed: a real change
    assert third.changes[0].kind == ChangeKind.MODIFIED


def test_another_shrunken_text_starts_the_count_again():
    held = Suspicion(content_hash(LOGIN_WALL), 2)
    decision = decide(stored(suspicion=held), document("# Cookies\n\nAccept them all.\n"))
    assert isinstance(decision, HeldBack) and decision.suspicion.runs == 1


def test_a_real_trim_made_of_old_lines_is_not_suspected():
    trimmed = "\n".join(GUIDE.splitlines()[:6]) + "\n"  # the title, two paragraphs
    assert len(trimmed) < ALERTS.shrink_ratio * len(GUIDE)
    decision = decide(stored(), document(trimmed))
    assert isinstance(decision, Accepted) and decision.changes[0].kind == ChangeKind.MODIFIED


def test_a_short_page_is_too_short_for_its_size_to_mean_anything():
    short = "# Tiny\n\nA short page with little text on it, well under the limit.\n"
    decision = decide(stored(short), document("# Tiny\n"))
    assert isinstance(decision, Accepted)


# -- moves ----------------------------------------------------------------------------


MOVED = "https://quill.hexdocs.pm/guides/queues.html"


def test_a_permanent_redirect_is_reported_once():
    first = decide(stored(), document(moved_to=MOVED))
    assert isinstance(first, Accepted) and first.moved_to == MOVED
    assert first.changes == (ChangeRecord(ChangeKind.MOVED, f"moved to {MOVED}",
                                          {"from": URL, "to": MOVED}, old=SnapshotRef.STORED),)
    assert first.counts == Counts(checked=1, unchanged=1, changed=1)

    again = decide(stored(moved_to=MOVED), document(moved_to=MOVED))
    assert isinstance(again, Accepted) and again.moved_to == MOVED and again.changes == ()


def test_a_move_is_reported_before_the_change_of_text():
    decision = decide(stored(), document(GUIDE + "New.\n", moved_to=MOVED))
    assert isinstance(decision, Accepted)
    assert [c.kind for c in decision.changes] == [ChangeKind.MOVED, ChangeKind.MODIFIED]
    assert decision.counts == Counts(checked=1, changed=2)


def test_a_page_answering_at_its_place_again_forgets_the_move():
    decision = decide(stored(moved_to=MOVED), document())
    assert isinstance(decision, Accepted) and decision.moved_to is None


def test_a_304_notes_a_move_once_too():
    page = StoredPage(URL, moved_to=None)
    seen = classify_unchanged(page, Unchanged(URL, moved_to=MOVED))
    assert seen.moved_to == MOVED and [c.kind for c in seen.changes] == [ChangeKind.MOVED]
    again = classify_unchanged(StoredPage(URL, moved_to=MOVED), Unchanged(URL, moved_to=MOVED))
    assert again.changes == () and again.counts == Counts(checked=1, unchanged=1)


# -- unchanged pages ------------------------------------------------------------------


def test_a_304_without_validators_keeps_the_stored_ones():
    page = StoredPage(URL, validators=Validators('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT"))
    assert classify_unchanged(page, Unchanged(URL)).validators == page.validators
    newer = classify_unchanged(page, Unchanged(URL, Validators('"v2"')))
    assert newer.validators == Validators('"v2"', "Mon, 01 Jan 2024 00:00:00 GMT")


def test_a_304_merges_the_other_urls_validators():
    md, html = "https://quill.hexdocs.pm/queues.md", "https://quill.hexdocs.pm/queues.html"
    page = StoredPage(URL, aux_validators={md: Validators('"md-1"'), html: Validators('"h"')})
    seen = classify_unchanged(page, Unchanged(URL, aux_validators=(
        (md, Validators('"md-2"')), ("https://hexdocs.pm/quill/queues.html", Validators()))))
    # The .md twin's are replaced; the HTML's other hexdocs form is forgotten (it was
    # fetched again and answered without validators).
    assert seen.aux_validators == {md: Validators('"md-2"')}
    assert classify_unchanged(page, Unchanged(URL)).aux_validators is None  # kept


def test_a_304_of_an_unknown_page_only_counts():
    seen = classify_unchanged(None, Unchanged(URL))
    assert seen.changes == () and seen.counts == Counts(checked=1, unchanged=1)


def test_only_a_304_changing_nothing_but_bookkeeping_is_merely_seen():
    md = "https://quill.hexdocs.pm/queues.md"
    known = KnownPage({}, aux_validators={md: Validators('"md"')})
    assert only_seen(known, Unchanged(URL, Validators('"new"')))
    assert only_seen(known, Unchanged(URL, aux_validators=((md, Validators('"md"')),)))
    assert only_seen(known, Unchanged(URL, aux_validators=((md, Validators()),)))
    assert not only_seen(known, Unchanged(URL, aux_validators=((md, Validators('"2"')),)))
    assert not only_seen(known, Unchanged(URL, moved_to=MOVED))
    assert not only_seen(KnownPage({}, moved_to=MOVED), Unchanged(URL))


# -- failures -------------------------------------------------------------------------


def test_a_404_streak_removes_the_page_after_remove_after_missing_runs():
    gone = Failure(URL, "HTTP 404", status=404)
    first = classify_failure(StoredPage(URL), gone, 2)
    assert (first.missing_runs, first.removal) == (1, None)
    assert first.counts == Counts(checked=1, errors=1)

    second = classify_failure(StoredPage(URL, missing_runs=1), gone, 2)
    assert second.missing_runs == 2
    assert second.removal == ChangeRecord(ChangeKind.REMOVED,
                                          "answered HTTP 404 on 2 runs in a row",
                                          old=SnapshotRef.STORED)
    assert second.counts == Counts(checked=1, errors=1, changed=1)


def test_a_failure_that_is_no_evidence_of_removal_leaves_the_page():
    page = StoredPage(URL, missing_runs=1)
    for failure, remove_after in ((Failure(URL, "HTTP 500", status=500), 2),
                                  (Failure(URL, "HTTP 404", status=404), None)):
        assert not is_missing(failure, remove_after)
        decision = classify_failure(page, failure, remove_after)
        assert decision.missing_runs is None and decision.removal is None
    removed = StoredPage(URL, status=PageStatus.REMOVED, missing_runs=5)
    assert classify_failure(removed, Failure(URL, "HTTP 410", status=410), 2).removal is None


def test_an_index_failure_is_an_error_but_no_page_checked():
    decision = classify_failure(None, Failure(URL, "feed: HTTP 500", page=False), None)
    assert decision.counts == Counts(checked=0, errors=1)


# -- indexes --------------------------------------------------------------------------


ROOT = "https://quill.hexdocs.pm/"
PAGES = [(i, f"{ROOT}page{i}.html") for i in range(1, 11)]


def listing(*numbers: int) -> Listing:
    return Listing(ROOT, frozenset(f"{ROOT}page{i}.html" for i in numbers))


def test_pages_no_longer_listed_are_removed():
    decision = classify_listing(listing(*range(1, 10)), PAGES, {}, ALERTS)
    assert decision.removed == (10,) and decision.error is None
    assert decision.counts == Counts(changed=1)


def test_pages_outside_the_scope_are_not_judged():
    other = [(99, "https://other.hexdocs.pm/page.html")]
    decision = classify_listing(listing(*range(1, 11)), PAGES + other, {}, ALERTS)
    assert decision.removed == ()


def test_an_index_that_suddenly_shrank_removes_nothing_until_confirmed():
    first = classify_listing(listing(1, 2), PAGES, {}, ALERTS)
    assert first.removed == () and first.suspects == {ROOT: 1}
    assert first.error == ("probable breakage: the package index lists 2 pages where 10 "
                           "were known; no page is reported removed (run 1 of 3 before the "
                           "shorter index is accepted)")
    assert first.counts == Counts(errors=1)

    second = classify_listing(listing(1, 2), PAGES, first.suspects, ALERTS)
    assert second.suspects == {ROOT: 2} and second.removed == ()

    third = classify_listing(listing(1, 2), PAGES, second.suspects, ALERTS)
    assert third.error is None and third.suspects == {}
    assert third.removed == tuple(range(3, 11))


def test_a_full_index_again_forgets_the_suspicion():
    decision = classify_listing(listing(*range(1, 11)), PAGES,
                                {ROOT: 2, "https://x.hexdocs.pm/": 1}, ALERTS)
    assert decision.suspects == {"https://x.hexdocs.pm/": 1} and decision.error is None


def test_a_small_index_is_too_small_for_its_size_to_mean_anything():
    few = PAGES[:MIN_INDEX_SIZE - 1]
    decision = classify_listing(listing(1), few, {}, ALERTS)
    assert decision.error is None and decision.removed == tuple(range(2, MIN_INDEX_SIZE))


# -- failing streaks ------------------------------------------------------------------


DAY = dt.date(2025, 5, 1)


def test_a_run_that_fetched_nothing_extends_the_failing_streak():
    first = next_streak(0, None, checked=3, errors=3, run_date=DAY)
    assert (first.failing_runs, first.failing_since, first.recovered_after) == (1, DAY, 0)
    second = next_streak(1, DAY, checked=3, errors=3, run_date=DAY + dt.timedelta(1))
    assert (second.failing_runs, second.failing_since) == (2, DAY)  # since the first


def test_a_run_that_fetched_something_ends_the_streak_and_says_how_long_it_was():
    ended = next_streak(4, DAY, checked=3, errors=2, run_date=DAY)
    assert (ended.failing_runs, ended.failing_since, ended.recovered_after) == (0, None, 4)
    quiet = next_streak(0, None, checked=0, errors=0, run_date=DAY)
    assert (quiet.failing_runs, quiet.recovered_after) == (0, 0)
