"""The exceptions docwatch raises on purpose, all under :class:`DocwatchError`.

``except DocwatchError`` catches every problem docwatch itself reports, already phrased
for a user (``str(exc)``); anything else that escapes the library is a bug or the
environment's (a full disk, an unreachable database server). Each exception is defined
in the module that raises it, and imported from there::

    DocwatchError
    ├── ConfigError          crawler.config
    ├── RunLocked            crawler.store.lock
    ├── RunDateRefused       crawler.pipeline
    ├── HistoryError         crawler.history
    ├── BackupRefused        crawler.store.db
    ├── CopyRefused          crawler.store.copy
    ├── CopyFailed           crawler.store.copy
    ├── DatabaseUnusable     crawler.store.db
    ├── ReportUnwritable     crawler.report
    ├── FetchError           crawler.http
    │   └── ConnectionFailed crawler.http
    ├── StarterExists        crawler.init
    └── DemoDirectoryInUse   crawler.demo.run

``ConfigError``
    ``load_config`` (sources.yaml unreadable or invalid), ``crawl`` (a ``sources=``
    name that is not configured), ``schedule.schedule_trigger`` and
    ``schedule.source_triggers`` (a bad cron expression or time zone). ``problems``
    lists them, each as ``file:line: field: what``. The CLI prints each one as
    ``error: …`` and exits 2; ``run_schedule`` logs them and returns
    ``ScheduleOutcome.CONFIG_INVALID`` at startup (exit 2), and skips (and logs) a
    later run whose configuration became invalid.
``RunLocked``
    ``crawl`` and ``store.lock.run_lock``: another run holds the database (``holder``,
    ``since``; a dead holder's lock is taken over instead). ``docwatch crawl``,
    ``docwatch prune`` and ``docwatch db copy`` say so and exit 3; the scheduler skips
    that run (logged).
``RunDateRefused``
    ``crawl``: a ``date`` before the last run's (the history is read in date order) or
    implausible (before 2000, after tomorrow), without ``backfill``. ``docwatch crawl``
    prints it and exits 2 (``--backfill`` records the date anyway).
``HistoryError``
    The reading functions of ``crawler.history`` (``open_existing``, ``find_page``,
    ``snapshot_at``, ``diff_snapshots``…): nothing to show (no database, an unknown URL,
    no snapshot on that date). The reading commands print ``error: …`` and exit 1.
``BackupRefused``
    ``store.db.backup``: the database is not SQLite (PostgreSQL has ``pg_dump``) or the
    target file exists. ``docwatch db backup`` prints it and exits 2.
``CopyRefused``
    ``store.copy.copy_history``: the target already holds a history (never merged into)
    or is the source itself. ``docwatch db copy`` prints it and exits 2.
``CopyFailed``
    ``store.copy.copy_history``: the target refused a row (a value its type cannot hold,
    e.g. a NUL character on PostgreSQL), named by its table, or the rows counted differ
    afterwards; the copy's one transaction is rolled back. ``docwatch db copy`` prints
    it and exits 4.
``DatabaseUnusable``
    ``store.db.open_database``: the SQLite file is empty (SQLite would silently start a
    new history in it). Every command prints it and exits 4; so does a failure of the
    database itself (SQLAlchemy's ``DBAPIError``: unreachable, full, read-only, not a
    database), in one sentence, the run closed as failed where the database still
    takes the write.
``ReportUnwritable``
    ``report.publish``: the report folder took no file (a full disk, a read-only file
    system, a file where the folder should be). ``docwatch crawl`` and ``docwatch
    report`` print it and exit 5; a crawl's pages are stored and its run is closed as
    failed with that sentence.
``FetchError`` (and ``ConnectionFailed``: no HTTP answer at all)
    ``http.Fetcher``: a URL that could not be fetched after its retries (``url``,
    ``status``, ``attempts``). It never reaches the CLI: the sources record it as the
    page's fetch problem (in the report, never a removal); ``docwatch crawl`` exits 1
    when every fetch of a run failed, ``docwatch sources --check`` when a URL fails.
``StarterExists``
    ``init.write_starter``: a starter file already exists and ``force`` was not given
    (``paths``). ``docwatch init`` suggests ``--force`` and exits 2.
``DemoDirectoryInUse``
    ``demo.run.run_demo``: the chosen directory holds files the demo did not write.
    ``docwatch demo`` prints it and exits 2.

Not exceptions: a stop (the ``stop`` event of ``crawl`` and ``run_schedule``) ends a
run as interrupted, and a report that could not be delivered is one of
``RunOutcome.delivery_problems``. A run that crashes is recorded as failed and its
exception re-raised unchanged. The private exceptions of ``crawler.http`` and
``crawler.sources.exdoc`` carry a failure between two functions of their module and
never leave it.
"""

from __future__ import annotations


class DocwatchError(Exception):
    """A problem docwatch reports to its user, phrased for them; the base of the tree above."""


__all__ = ["DocwatchError"]
