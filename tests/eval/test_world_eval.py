"""The world evaluation set, judged against a crawl of the offline world: its cases load,
their evidence is a page docwatch stored, and the figures do not drop.

``python -m tests.eval --world`` prints the table and every miss and false alarm.
Skipped when the world (../shared/world, or $DOCWATCH_WORLD) is not there.
"""

from __future__ import annotations

import pytest

from .runner import CLASSES, OVERALL, LabelError
from .world import (
    JUDGED_DAYS,
    crawl_world,
    default_world,
    evaluate_world,
    evidence_crawled,
    load_world_cases,
    page_key,
    world_present,
)

WORLD = default_world()
needs_world = pytest.mark.skipif(not world_present(WORLD),
                                 reason=f"the world is not at {WORLD}")

# Today's measured figures (rounded down) of the world set, per class: the engine must
# not fall below them. Raise a floor when the engine gets better; lower one only when
# new cases make the set harder (a new file of cases: measure again, say so in the
# commit). A class without lines scores 1.0.
RECALL_FLOOR = {"named": 1.0, "term-kinds": 1.0, "usage": 0.85, "drift": 1.0,
                "disappeared": 0.97, "current": 0.75, "cross-package": 1.0, OVERALL: 0.93}
PRECISION_FLOOR = {"named": 1.0, "term-kinds": 1.0, "usage": 1.0, "drift": 1.0,
                   "disappeared": 1.0, "current": 1.0, "cross-package": 1.0, OVERALL: 1.0}
KINDS_RIGHT_FLOOR = 113  # of the overall true positives


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    return crawl_world(WORLD, tmp_path_factory.mktemp("world-eval"))


@pytest.fixture(scope="module")
def evaluation(crawled):
    return evaluate_world(load_world_cases(), crawled)


def test_the_world_cases_load_and_each_names_a_judged_day():
    cases = load_world_cases()
    assert cases
    assert {c.day for c in cases} <= set(JUDGED_DAYS)
    # A case of current usage may hold clean lines only; every other retires something.
    assert all(any(label.stale for label in c.labels) for c in cases if c.klass != "current")


@needs_world
def test_every_evidence_page_was_crawled_on_its_day(crawled):
    assert set(crawled.facts) == set(JUDGED_DAYS)
    lost = [(c.id, c.evidence) for c in load_world_cases() if not evidence_crawled(c, crawled)]
    assert not lost


@needs_world
@pytest.mark.parametrize("klass", [*CLASSES, OVERALL])
def test_the_engine_keeps_its_measured_world_figures(evaluation, klass):
    score = evaluation.scores[klass]
    assert score.recall >= RECALL_FLOOR[klass], (klass, score)
    assert score.precision >= PRECISION_FLOOR[klass], (klass, score)


@needs_world
def test_the_engine_keeps_its_measured_world_kinds(evaluation):
    assert evaluation.scores[OVERALL].kinds_right >= KINDS_RIGHT_FLOOR


def test_both_hexdocs_url_forms_name_the_same_page():
    day2 = "http://127.0.0.1:8000/hexdocs.pm/phoenix_live_view/bindings.html"
    day6 = "http://127.0.0.1:8000/phoenix-live-view.hexdocs.pm/bindings.html"
    assert page_key(day2) == page_key(day6) == ("phoenix_live_view", "bindings.html")
    assert page_key("/hexdocs.pm/ecto/changelog.html") == ("ecto", "changelog.html")
    assert page_key("https://hexdocs.pm/ecto/") is None  # a root, not a page


@pytest.mark.parametrize(("field", "value", "complaint"), [
    ("day", "3", "day 3"),
    ("evidence", "https://ecto.hexdocs.pm/changelog.html", "not a page of"),
    ("evidence", "/hexdocs.pm/phoenix/changelog.html", "not a page of"),
])
def test_a_case_must_say_its_day_and_evidence_in_the_form_asked(tmp_path, field, value,
                                                                 complaint):
    fields = {"day": "2", "evidence": "/hexdocs.pm/ecto/changelog.html", field: value}
    path = tmp_path / "bad.yaml"
    path.write_text(f"- id: bad\n  class: named\n  day: {fields['day']}\n  package: ecto\n"
                    f"  evidence: {fields['evidence']}\n"
                    "  lines:\n    - stale: \"x\"\n      kind: removed\n")
    with pytest.raises(LabelError, match=complaint):
        load_world_cases([path])
