"""What a report's facts mean: the analysers between the stored facts and the report.

The flow is one way: :mod:`crawler.report.model` gathers the report's facts from the
database (typed values of :mod:`~crawler.analysis.facts`; the docs' own evidence
through :mod:`~crawler.analysis.queries`), hands them to the analysers below with
explicit inputs, in dependency order, and builds the frozen report once.

- :mod:`~crawler.analysis.changes`: the changes in report order, split as shown
- :mod:`~crawler.analysis.findings`: what the docs announce (deprecations, removals)
- :mod:`~crawler.analysis.skill_files`: the skill files, read once
- :mod:`~crawler.analysis.stale`: which skill lines teach what the docs retired
- :mod:`~crawler.analysis.keywords`: whether a text mentions a skill's keywords
- :mod:`~crawler.analysis.bumps`: the packages whose latest stable version moved
- :mod:`~crawler.analysis.flags`: which skills a run concerns, and why
- :mod:`~crawler.analysis.gaps`: what the docs newly teach that no skill covers
- :mod:`~crawler.analysis.actions`: the next steps for each flagged skill
- :mod:`~crawler.analysis.takeaways`: the run's most significant findings

Only :mod:`~crawler.analysis.queries` reads the database; every other module is a set
of pure functions (skill files aside, read by :mod:`~crawler.analysis.skill_files`).
"""
