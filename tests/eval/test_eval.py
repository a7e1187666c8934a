"""The stale-line evaluation set, run through the real engine: the figures do not drop.

``python -m tests.eval`` prints the table and every miss and false alarm.
"""

from __future__ import annotations

import pytest

from .runner import (
    CLASSES,
    OVERALL,
    Case,
    DocPage,
    Label,
    LabelError,
    evaluate,
    evaluate_case,
    load_cases,
)

# Today's measured figures (rounded down), per class of evidence: the engine must not
# fall below them. Issue 14 raises them to its targets: overall recall >= 0.9 and
# precision >= 0.97, and every class's recall >= 0.8. Raise a floor when the engine gets
# better; lower one only when new cases make the set harder (say so in the commit).
RECALL_FLOOR = {"named": 0.94, "term-kinds": 0.94, "usage": 0.86, "drift": 1.0,
                "disappeared": 0.96, "current": 0.80, "cross-package": 0.96, OVERALL: 0.93}
PRECISION_FLOOR = {"named": 1.0, "term-kinds": 1.0, "usage": 1.0, "drift": 1.0,
                   "disappeared": 0.97, "current": 1.0, "cross-package": 1.0, OVERALL: 0.99}
KINDS_RIGHT_FLOOR = 279  # of the overall true positives
# What the set promises its readers: enough lines per class to mean something.
MIN_LINES = 8
MIN_NAMED_STALE = 25
MIN_DRIFT_PAIRS = 30


@pytest.fixture(scope="module")
def evaluation():
    return evaluate(load_cases())


@pytest.mark.parametrize("klass", [*CLASSES, OVERALL])
def test_the_engine_keeps_its_measured_recall_and_precision(evaluation, klass):
    score = evaluation.scores[klass]
    assert score.recall >= RECALL_FLOOR[klass], (klass, score)
    assert score.precision >= PRECISION_FLOOR[klass], (klass, score)


def test_the_engine_keeps_its_measured_kinds(evaluation):
    assert evaluation.scores[OVERALL].kinds_right >= KINDS_RIGHT_FLOOR


def test_every_class_has_enough_stale_and_clean_lines(evaluation):
    scores = evaluation.scores
    thin = [k for k in CLASSES if scores[k].stale < MIN_LINES or scores[k].clean < MIN_LINES]
    assert not thin, thin
    assert scores["named"].stale >= MIN_NAMED_STALE
    drift = [c for c in load_cases() if c.klass == "drift"]
    pairs = sum(min(sum(lab.stale for lab in c.labels), sum(not lab.stale for lab in c.labels))
                for c in drift)
    assert pairs >= MIN_DRIFT_PAIRS
    assert all(p.old for c in drift for p in c.pages), "a drift case needs an old text"


# -- the runner can fail -------------------------------------------------------------------

CHANGELOG = DocPage("glimmer", "https://hexdocs.pm/glimmer/changelog.html", "Changelog",
                    "# Changelog\n\n## v2.0.0\n\n### Deprecations\n\n"
                    "- `Glimmer.dim/1` is deprecated in favor of `Glimmer.fade/1`\n")


def test_a_wrong_stale_label_is_a_miss():
    # The engine rightly leaves `Glimmer.fade/1` alone: labelled stale, it is a miss.
    case = Case("wrong", "named", (CHANGELOG,),
                (Label("Glimmer.fade(el)", True, ("Glimmer.fade/1",), "deprecated"),
                 Label("Glimmer.dim(el)", True, ("Glimmer.dim/1",), "deprecated")))

    result = evaluate([case])

    wrong, right = result.outcomes
    assert wrong.miss and not wrong.true_positive and not wrong.false_alarm
    assert right.true_positive and right.kind_right
    score = result.scores["named"]
    assert (score.true_positives, score.misses, score.recall) == (1, 1, 0.5)


def test_a_wrong_clean_label_is_a_false_alarm_and_a_wrong_term_both():
    case = Case("wrong", "named", (CHANGELOG,),
                (Label("Glimmer.dim(el)", False),
                 Label("Glimmer.dim(el)", True, ("Glimmer.glow/1",), "deprecated"),
                 Label("Glimmer.dim(el)", True, ("Glimmer.dim/1",), "removed")))

    clean, other_term, wrong_kind = evaluate_case(case)

    assert clean.false_alarm and not clean.miss
    assert other_term.miss and other_term.false_alarm
    assert wrong_kind.true_positive and not wrong_kind.kind_right
    score = evaluate([case]).scores[OVERALL]
    assert (score.true_positives, score.misses, score.false_alarms) == (1, 1, 2)
    assert score.precision == pytest.approx(1 / 3)


def test_a_disappeared_term_is_found_from_the_old_text_only():
    page = DocPage("glimmer", "https://hexdocs.pm/glimmer/bindings.html", "Bindings",
                   "# Bindings\n\nUse `phx-shine`.\n", old="# Bindings\n\nUse `phx-glow`.\n")
    case = Case("gone", "disappeared", (page,),
                (Label("<div phx-glow>", True, ("phx-glow",), "removed"),
                 Label("<div phx-shine>", False)))

    gone, kept = evaluate_case(case)

    assert gone.true_positive and gone.kind_right
    assert not kept.flagged


def test_a_fixture_must_agree_with_docwatch_on_what_a_changelog_is(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- id: bad\n  class: named\n  docs:\n"
                    "    - url: https://hexdocs.pm/glimmer/changelog.html\n"
                    "      text: \"# Changelog\\n\"\n  lines: []\n")
    with pytest.raises(LabelError, match="changelog"):
        load_cases([path])


def test_a_label_of_no_known_kind_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- id: bad\n  class: named\n  docs:\n"
                    "    - url: https://hexdocs.pm/glimmer/guide.html\n"
                    "      text: \"# Guide\\n\"\n"
                    "  lines:\n    - stale: \"x\"\n      kind: obsolete\n")
    with pytest.raises(LabelError, match="obsolete"):
        load_cases([path])


def test_a_page_out_of_the_index_needs_the_text_it_held_and_no_current_one(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- id: bad\n  class: disappeared\n  docs:\n"
                    "    - url: https://hexdocs.pm/glimmer/guide.html\n"
                    "      listed: false\n      text: \"# Guide\\n\"\n  lines: []\n")
    with pytest.raises(LabelError, match="not listed"):
        load_cases([path])


@pytest.mark.parametrize(("found", "expected", "same"), [
    ("push_redirect", ("Phoenix.LiveView.push_redirect/2", "push_redirect/2"), True),
    ("Ecto.Multi.run", ("Ecto.Multi.run/5",), True),
    ("push_redirect", ("push_navigate/2",), False),
    ("Floki", ("Floki",), True),
    ("assign/3", ("Phoenix.Component.assign/3",), True),
])
def test_a_function_the_engine_names_without_its_arity_is_the_labelled_one(found, expected,
                                                                              same):
    from .runner import _term_matches

    assert _term_matches(found, expected) is same
