"""The vocabularies the report holds for every package: as small as their contents."""

from __future__ import annotations

import json

from crawler.analysis.queries import _Current, _frozen


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
    shared: dict[frozenset[str], frozenset[str]] = {}
    taught, guides = _frozen(current.taught, shared), _frozen(current.guides, shared)

    assert taught["glimmer"] == set(terms)
    assert taught["glimmer_extra"] == {*terms, "Glimmer.Extra.glow/1"}
    # glimmer's pages and guides, and glimmer_extra's guides: one set held, not three.
    assert taught["glimmer"] is guides["glimmer"] is guides["glimmer_extra"]
    held = {id(term) for vocabulary in (*taught.values(), *guides.values())
            for term in vocabulary}
    assert len(held) == 4  # each distinct term once, however many pages decoded it
