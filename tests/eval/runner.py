"""Run the labelled stale-line set through docwatch's engine and score it per class.

A case is a small docs fixture (pages in docwatch's normalised text, optionally with the
text an earlier snapshot held) and skill lines labelled ``stale`` (with the term and kind
the docs retire) or ``clean``. Each case is evaluated on its own, the way a crawl would
see those pages: every current page's ``vocab.notices``/``vocab.vocabulary`` (as
``store/recorder.py`` stores them, through the JSON round trip), the terms that vanished
between the snapshots (the rule of ``analysis/gone.py``, fed as ``analysis/queries.py``
feeds it from the database), the code lines that changed between them
(``analysis/drift``, as ``analysis/queries.snippet_facts`` finds them), then
``findings.docs_findings`` and ``stale.check_skills`` on a skill file of its lines. The
skill watches the docs of every page's package, or of the case's ``watches:`` only.

A page may say ``listed: false`` (it left the index: ``old`` is the last text it held,
it has no current text) or ``fetched: false`` (this crawl could not fetch it: ``text``
is what it held before). A package none of whose current pages was fetched is not
crawled this time.

Scoring, per line:

- a stale line flagged with its term is a true positive (its kind is right or not);
- a stale line not flagged, or flagged only with other terms, is a miss (the other
  terms also count as a false alarm: the user is told something untrue);
- a clean line flagged is a false alarm.

A label without a term (snippet drift: the whole line is the evidence) accepts any term;
a snippet drift flag (kind changed, its term the docs line the skill line copies) names
the labelled terms that line holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import yaml

from crawler.analysis import gone
from crawler.analysis.drift import snippet_changes, still_shown
from crawler.analysis.facts import DocsFacts, LastTaught, PageNotice
from crawler.analysis.findings import docs_findings, first_notices
from crawler.analysis.owners import Namespaces
from crawler.analysis.skill_files import SkillFile
from crawler.analysis.stale import StaleLine, check_skills
from crawler.notices import Notice, notices
from crawler.types import NoticeKind
from crawler.vocab import Term, is_changelog, vocabulary

DATA = Path(__file__).parent / "data"
# The classes of evidence, in the order the table shows them.
CLASSES = ("named", "term-kinds", "usage", "drift", "disappeared", "current",
           "cross-package")
KINDS = ("deprecated", "removed", "replaced", "renamed", "changed", "soft-deprecated")
OVERALL = "overall"
# Also measured, outside the overall figure: notices that an API now behaves otherwise
# ("no longer keeps microseconds", "now raises on duplicate IDs") retire no term a line
# could be matched by; the table shows how many such lines the engine still catches.
BEHAVIOUR = "behaviour"
EXTRA_CLASSES = (BEHAVIOUR,)


@dataclass(frozen=True)
class DocPage:
    """One page of a case's docs: its current text, and the text it held before;
    ``listed``: still in the index (else no current text), ``fetched``: fetched by
    this crawl (else ``text`` is what it last held)."""

    package: str
    url: str
    title: str
    text: str
    old: str | None = None
    listed: bool = True
    fetched: bool = True


@dataclass(frozen=True)
class Label:
    """A skill line and what it should be judged."""

    text: str
    stale: bool
    terms: tuple[str, ...] = ()  # any of them is the right term; none: any term
    kind: str | None = None


@dataclass(frozen=True)
class Case:
    """Docs and the skill lines judged against them."""

    id: str
    klass: str
    pages: tuple[DocPage, ...]
    labels: tuple[Label, ...]
    # The packages the skill watches (None: those of every page).
    watches: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Outcome:
    """What the engine said of one labelled line."""

    case: str
    klass: str
    label: Label
    flagged: tuple[StaleLine, ...]

    @property
    def hit(self) -> StaleLine | None:
        """The flag that names the labelled term (a stale line), else None."""
        if not self.label.stale:
            return None
        return next((s for s in self.flagged if _term_matches(s.term, self.label.terms)
                     or (s.kind == NoticeKind.CHANGED and _line_names(s.term, self.label.terms))),
                    None)

    @property
    def true_positive(self) -> bool:
        return self.hit is not None

    @property
    def miss(self) -> bool:
        return self.label.stale and self.hit is None

    @property
    def false_alarm(self) -> bool:
        """A clean line flagged, or a stale line flagged only with a wrong term."""
        return bool(self.flagged) and self.hit is None

    @property
    def kind_right(self) -> bool:
        hit = self.hit
        return hit is not None and str(hit.kind) == self.label.kind


@dataclass
class Score:
    """The counts of one class (or of all)."""

    stale: int = 0
    clean: int = 0
    true_positives: int = 0
    misses: int = 0
    false_alarms: int = 0
    kinds_right: int = 0

    def add(self, outcome: Outcome) -> None:
        if outcome.label.stale:
            self.stale += 1
        else:
            self.clean += 1
        self.true_positives += outcome.true_positive
        self.misses += outcome.miss
        self.false_alarms += outcome.false_alarm
        self.kinds_right += outcome.kind_right

    @property
    def recall(self) -> float:
        return self.true_positives / self.stale if self.stale else 1.0

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_alarms
        return self.true_positives / flagged if flagged else 1.0

    @property
    def kind_accuracy(self) -> float:
        """Of the true positives, the share whose kind is the labelled one."""
        return self.kinds_right / self.true_positives if self.true_positives else 0.0


@dataclass(frozen=True)
class Evaluation:
    """Every outcome, and the scores per class and overall."""

    outcomes: tuple[Outcome, ...]
    scores: dict[str, Score] = field(default_factory=dict)


# -- loading -----------------------------------------------------------------------------


class LabelError(ValueError):
    """A case of the set that does not say what it must (its id and what is wrong)."""


def load_cases(paths: Iterable[Path] | None = None) -> list[Case]:
    """The cases of the YAML files (every ``data/*.yaml`` by default), in file order."""
    return read_cases(sorted(DATA.glob("*.yaml")) if paths is None else paths, _case)


class _Identified(Protocol):
    id: str


C = TypeVar("C", bound=_Identified)


def read_cases(paths: Iterable[Path], parse: Callable[[dict, str], C]) -> list[C]:
    """The cases of YAML files, each read by ``parse(raw, file name)``; ids unique."""
    cases = [parse(raw, path.name) for path in paths
             for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    ids = [c.id for c in cases]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise LabelError(f"duplicate case ids: {', '.join(duplicates)}")
    return cases


def check_class(case_id: str, klass: object) -> str:
    """``klass`` if it is a class of the set, else a :class:`LabelError`."""
    if klass not in (*CLASSES, *EXTRA_CLASSES):
        raise LabelError(f"{case_id}: class {klass!r} is not one of "
                         f"{', '.join((*CLASSES, *EXTRA_CLASSES))}")
    return str(klass)


def _case(raw: dict, source: str) -> Case:
    case_id = raw.get("id") or f"<no id in {source}>"
    klass = check_class(case_id, raw.get("class"))
    pages = []
    for page in raw.get("docs") or []:
        listed = bool(page.get("listed", True))
        if listed == ("text" not in page):
            raise LabelError(f"{case_id}: {page['url']} needs a text unless not listed, "
                             "and has none when not listed")
        if not listed and not page.get("old"):
            raise LabelError(f"{case_id}: {page['url']} is not listed: it needs an old text")
        text = page.get("text", "")
        title = page.get("title") or _first_heading(text or page["old"])
        changelog = is_changelog(page["url"], title)
        if bool(page.get("changelog", False)) != changelog:
            # The engine tells a changelog by its URL and title: the fixture must agree.
            raise LabelError(f"{case_id}: {page['url']} says changelog: "
                             f"{page.get('changelog', False)}, docwatch reads {changelog}")
        pages.append(DocPage(page.get("package", raw.get("package", "")), page["url"],
                             title, text, page.get("old"), listed,
                             bool(page.get("fetched", True))))
    if not pages:
        raise LabelError(f"{case_id}: no docs")
    watches = raw.get("watches")
    return Case(case_id, klass, tuple(pages), parse_labels(case_id, raw.get("lines") or []),
                tuple(watches) if watches is not None else None)


def parse_labels(case_id: str, lines: Iterable[dict]) -> tuple[Label, ...]:
    """The labels of a case's ``lines:`` (each ``stale:`` with ``term:`` and ``kind:``,
    or ``clean:``)."""
    labels = []
    for line in lines:
        if "stale" in line:
            kind = line.get("kind")
            if kind not in KINDS:
                raise LabelError(f"{case_id}: kind {kind!r} of {line['stale']!r} is not one "
                                 f"of {', '.join(KINDS)}")
            term = line.get("term")
            terms = tuple(term) if isinstance(term, list) else (term,) if term else ()
            labels.append(Label(line["stale"], True, terms, kind))
        elif "clean" in line:
            labels.append(Label(line["clean"], False))
        else:
            raise LabelError(f"{case_id}: a line is neither stale nor clean: {line!r}")
    return tuple(labels)


def _first_heading(text: str) -> str:
    return next((line[2:] for line in text.splitlines() if line.startswith("# ")), "")


# -- the engine --------------------------------------------------------------------------


def docs_facts_of(pages: Sequence[DocPage]) -> DocsFacts:
    """The :class:`DocsFacts` a crawl of ``pages`` would store and read back.

    Notices: the first ones (``findings.first_notices``) of the current pages (pages by
    URL, as ``queries.docs_facts`` reads them), through the JSON of a snapshot.
    Gone: ``analysis.gone.gone_terms`` on what ``queries.gone_terms`` reads from a
    database where each ``old`` text is a snapshot of an earlier run and each current
    text the page's latest; a page's source is its ``package``.
    Snippets: the code lines of each page's old text that its text changed
    (``queries.snippet_facts``), with the code every current text shows.
    """
    by_url = sorted(pages, key=lambda p: p.url)
    current = [p for p in by_url if p.listed]
    page_notices = []
    for page in current:
        stored = json.loads(json.dumps(
            [n.as_dict() for n in notices(page.text, is_changelog(page.url, page.title))]))
        page_notices.extend(PageNotice(page.url, Notice.from_dict(raw)) for raw in stored)
    packages: dict[str, bool] = {}
    for page in current:
        key = gone.package_key(page.url, page.package)
        packages[key] = packages.get(key, False) or page.fetched
    documented: dict[str, set[str]] = {}
    for page in by_url:
        if module := gone.page_module(page.url):
            documented.setdefault(gone.package_key(page.url, page.package), set()).add(module)
    vocabularies = {entry for page in current
                    for entry in gone.expand(vocabulary(page.text), page.url)}
    taught = gone.Taught(gone.CurrentDocs(
        frozenset(vocabularies), packages,
        {p: frozenset(m) for p, m in documented.items()}))
    olds = {i: page.old for i, page in enumerate(by_url) if page.old is not None}
    for i, old in olds.items():
        page = by_url[i]
        title = _first_heading(old) or page.title
        stored = json.loads(json.dumps(
            [n.as_dict() for n in notices(old, is_changelog(page.url, title))]))
        taught.add(vocabulary(old), gone.Teacher(
            i, 1, page.url, title, gone.package_key(page.url, page.package), page.listed),
            gone.announced(stored), gone.retired_usages(stored))

    def mentioned(terms: list[Term], retired: frozenset[Term]) -> set[Term]:
        return gone.still_mentioned(
            [(gone.page_module(p.url), p.text, is_changelog(p.url, p.title)) for p in current],
            terms, retired)

    found = gone.gone_terms(taught, mentioned, lambda ids: ((i, olds[i]) for i in ids))
    usages = gone.carried(taught, mentioned)
    taught_by: dict[str, set[str]] = {}
    guides: dict[str, set[str]] = {}
    for page in current:
        terms = vocabulary(page.text)
        taught_by.setdefault(page.package, set()).update(terms)
        if not is_changelog(page.url, page.title):
            guides.setdefault(page.package, set()).update(terms)
    snippets = tuple(change for page in by_url
                     if page.old and page.listed and not is_changelog(page.url, page.title)
                     for change in snippet_changes(page.url, page.old, page.text))
    current_code = frozenset(still_shown((page.text for page in by_url if page.listed),
                                         snippets))
    guides_of = {p: frozenset(t) for p, t in guides.items()}
    return DocsFacts(first_notices(page_notices, guides_of), (
        *(LastTaught(term, t.url, t.title, olds[t.snapshot],
                     Notice.from_dict(n) if (n := taught.notice_of(term)) else None)
          for term, t in found.items()),
        *(LastTaught(gone.usage_probe(n), t.url, t.title, olds[t.snapshot], Notice.from_dict(n))
          for t, n in usages)),
        {p: frozenset(t) for p, t in taught_by.items()}, guides_of, snippets, current_code)


def judge(case_id: str, klass: str, labels: Sequence[Label], facts: DocsFacts,
          packages: Iterable[str] = ()) -> list[Outcome]:
    """Each of ``labels`` with what ``check_skills`` flags on it, the lines making one
    skill file judged against ``facts`` (a case's pages, or a crawl of the world). The
    skill watches the docs of ``packages``, as a skill about them would."""
    text = "\n".join(label.text for label in labels)
    watches = tuple(sorted(f"https://hexdocs.pm/{p}/*" for p in set(packages)))
    skill = SkillFile(case_id, Path(f"{case_id}/SKILL.md"), text, watches)
    stale = check_skills([skill], docs_findings(facts), Namespaces.of(facts.taught),
                         facts)[case_id]
    return [Outcome(case_id, klass, label, tuple(s for s in stale if s.line == number))
            for number, label in enumerate(labels, start=1)]


def evaluate_case(case: Case) -> list[Outcome]:
    """Each labelled line of ``case`` with what ``check_skills`` flags on it."""
    return judge(case.id, case.klass, case.labels, docs_facts_of(case.pages),
                 case.watches if case.watches is not None else {p.package for p in case.pages})


def scored(outcomes: Iterable[Outcome]) -> Evaluation:
    """The ``outcomes``, scored per class and overall."""
    outcomes = tuple(outcomes)
    scores = {klass: Score() for klass in (*CLASSES, OVERALL, *EXTRA_CLASSES)}
    for outcome in outcomes:
        scores[outcome.klass].add(outcome)
        if outcome.klass not in EXTRA_CLASSES:
            scores[OVERALL].add(outcome)
    return Evaluation(outcomes, scores)


def evaluate(cases: Iterable[Case]) -> Evaluation:
    """Every case's outcomes, scored per class and overall."""
    return scored(o for case in cases for o in evaluate_case(case))


# A function named without its arity: ``push_redirect``, ``Ecto.Multi.run``.
FUNCTION_NAME = re.compile(r"^(?:[A-Z]\w*\.)*[a-z_]\w*[?!]?$")


def _normal(term: str) -> str:
    term = term.strip().strip("`")
    if term.startswith("{:"):  # a tagged tuple shape, named by its tag
        term = term[1:].partition(",")[0]
    if term.startswith("mix "):
        term = term[4:]
    if term.startswith("<.") and term.endswith(">"):
        term = term[2:-1]
    return term.strip(":").removeprefix("@")


def _term_matches(found: str, expected: tuple[str, ...]) -> bool:
    """The engine's term names the labelled one: the same once spelled alike, or the
    same function where one of them leaves the module out, or the engine's the arity
    (``push_redirect`` as the docs' notice names it, for ``push_redirect/2``)."""
    if not expected:
        return True
    got = _normal(found)
    for want in map(_normal, expected):
        if FUNCTION_NAME.match(got) and "/" in want:
            want = want.partition("/")[0]
        elif "/" not in got or "/" not in want:
            if got == want:
                return True
            continue
        if got == want:
            return True
        if ("." not in got or "." not in want) \
                and got.rsplit(".", 1)[-1] == want.rsplit(".", 1)[-1]:
            return True
    return False


def _line_names(line: str, expected: tuple[str, ...]) -> bool:
    """A snippet drift flag, whose term is the whole docs line the skill line copies,
    names a labelled term that line holds (``<.form …>`` holds ``<.form>``)."""
    return any(want and want in line for want in map(_normal, expected))


# -- output ------------------------------------------------------------------------------


def table(scores: dict[str, Score]) -> str:
    """The scores as a Markdown table, one row per class and one overall."""
    rows = ["| class | stale | clean | TP | missed | false alarms | precision | recall "
            "| kind right |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for klass, s in scores.items():
        if klass in EXTRA_CLASSES and not s.stale + s.clean:
            continue  # measured apart, and nothing to measure here
        name = f"**{klass}**" if klass == OVERALL else klass
        # Nothing flagged: precision is 1 by convention (no untrue claim), shown as "-".
        precision = f"{s.precision:.2f}" if s.true_positives + s.false_alarms else "-"
        rows.append(f"| {name} | {s.stale} | {s.clean} | {s.true_positives} | {s.misses} "
                    f"| {s.false_alarms} | {precision} | {s.recall:.2f} "
                    f"| {s.kinds_right}/{s.true_positives} |")
    return "\n".join(rows)


def _said(outcome: Outcome) -> str:
    if not outcome.flagged:
        return "nothing"
    return "; ".join(f"{s.term} {s.kind}" for s in outcome.flagged)


def mistakes(outcomes: Iterable[Outcome]) -> str:
    """The misses, false alarms and wrong kinds, one per line, grouped by what they are."""
    outcomes = list(outcomes)
    out = []
    for title, pick in (("Misses", lambda o: o.miss),
                        ("False alarms", lambda o: o.false_alarm and not o.label.stale),
                        ("Right term, wrong kind", lambda o: o.true_positive
                         and not o.kind_right)):
        chosen = [o for o in outcomes if pick(o)]
        out.append(f"\n{title} ({len(chosen)}):")
        for o in chosen:
            expected = (f"stale {o.label.kind} {' | '.join(o.label.terms) or '(any term)'}"
                        if o.label.stale else "clean")
            out.append(f"  [{o.klass}] {o.case}: {o.label.text.strip()}\n"
                       f"      expected {expected}; engine said {_said(o)}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table, then every miss and false alarm. Exit 0 (a measure, not a gate:
    the floors are asserted by ``tests/eval/test_eval.py``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path,
                        help="YAML files of cases (default: tests/eval/data/*.yaml)")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table without the list of mistakes")
    parser.add_argument("--world", nargs="?", const="", metavar="PATH",
                        help="also judge tests/eval/world/*.yaml against a crawl of the "
                             "offline world at PATH (default: $DOCWATCH_WORLD, else "
                             "../shared/world next to the repository)")
    args = parser.parse_args(argv)
    cases = load_cases(args.files or None)
    result = evaluate(cases)
    print(f"{len(cases)} cases, {len(result.outcomes)} labelled lines\n")
    print(table(result.scores))
    if not args.table_only:
        print(mistakes(result.outcomes))
    if args.world is not None:
        from .world import main_world  # it imports this module

        return main_world(Path(args.world) if args.world else None, result,
                          table_only=args.table_only)
    return 0
