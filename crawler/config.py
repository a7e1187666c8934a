"""Load ``sources.yaml`` into typed models.

Every mistake is reported as a :class:`ConfigError` that names the file, the line
(where YAML can tell) and the field, so a user fixing a cron job's config at night
does not have to guess.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from crawler.errors import DocwatchError
from crawler.hexdocs import url_key
from crawler.sources import SOURCE_KINDS, make_source
from crawler.sources.base import HistoryConfig, SourceConfig, check_http_url

DEFAULT_CONFIG = Path("sources.yaml")
USER_AGENT = "docwatch/0.1 (+https://github.com/docwatch/docwatch; documentation change monitor)"


class ConfigError(DocwatchError):
    """A configuration problem, already phrased for the user (``file:line: field: what``)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportConfig(_Model):
    title: str = "docwatch research"
    dir: Path = Path("reports")
    # Where the report folder is published (used for the Atom feed's links and ids).
    base_url: str | None = None
    feed_entries: Annotated[int, Field(ge=1)] = 20


class HttpConfig(_Model):
    user_agent: str = USER_AGENT
    concurrency: Annotated[int, Field(ge=1, le=256)] = 16
    per_host: Annotated[int, Field(ge=1, le=64)] = 4
    timeout: Annotated[float, Field(gt=0)] = 30.0
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    max_retry_after: Annotated[float, Field(ge=0)] = 60.0
    max_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    delay: Annotated[float, Field(ge=0)] = 0.0
    respect_robots: bool = True


class EmailConfig(_Model):
    """Where and when to e-mail the report. The password only ever comes from the environment."""

    send: Literal["always", "changes", "never"] = "changes"
    smtp_host: str = "localhost"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str = "DOCWATCH_SMTP_PASSWORD"
    sender: str = Field("docwatch@localhost", alias="from")
    to: Annotated[list[str], Field(min_length=1)]
    timeout: Annotated[float, Field(gt=0)] = 30.0

    model_config = ConfigDict(populate_by_name=True)  # extra="forbid" comes from _Model


class AlertsConfig(_Model):
    """When silent breakage is called out instead of recorded as a change."""

    # A source failing on this many runs in a row is called out at the top of the report.
    failing_runs: Annotated[int, Field(ge=1)] = 3
    # Text shrinking below this share of its previous size is a probable breakage
    # (login wall, cookie banner, selector that stopped matching) ...
    shrink_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.25
    # ... and an index listing fewer than this share of the known pages too.
    index_shrink_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5
    # The same shrunken text seen on this many runs in a row is accepted as real.
    confirm_runs: Annotated[int, Field(ge=2)] = 3


class NotifyConfig(_Model):
    """Chat notifications through Apprise (optional extra ``docwatch[notify]``)."""

    send: Literal["always", "changes", "never"] = "changes"
    apprise: list[str] = []


class ScheduleConfig(_Model):
    """When ``docwatch schedule`` runs the crawl."""

    cron: str = "0 3 * * *"
    timezone: str = "UTC"
    # A run missed while the machine slept still runs if it wakes within this many seconds.
    grace_seconds: Annotated[int, Field(ge=0)] = 6 * 3600


class SkillConfig(_Model):
    name: Annotated[str, Field(min_length=1)]
    path: Path | None = None
    watches: list[Glob] = []
    keywords: list[str] = []

    @field_validator("keywords")
    @classmethod
    def _non_empty_keywords(cls, keywords: list[str]) -> list[str]:
        if any(not k.strip() for k in keywords):
            raise ValueError("keywords must not be empty strings")
        return keywords

    def watches_url(self, url: str) -> str | None:
        """The first watch glob that matches ``url``, if any. A hexdocs glob and URL
        match in either form (``hexdocs.pm/<pkg>/`` or ``<pkg>.hexdocs.pm/``)."""
        key = url_key(url)
        return next((g for g in self.watches if _glob_match(url_key(g))(key)), None)


@functools.lru_cache(maxsize=4096)
def _glob_match(glob: str) -> Callable[[str], re.Match[str] | None]:
    # What fnmatch.fnmatchcase(url, glob) does, without its per-call overhead: a report
    # matches every changed URL against every watch of every skill.
    return re.compile(fnmatch.translate(glob)).match


def check_glob(pattern: str) -> str:
    """Reject globs that fnmatch would silently treat as literals (unbalanced ``[``)."""
    if not pattern.strip():
        raise ValueError("a watch glob must not be empty")
    depth = 0
    for ch in pattern:
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
    if depth:
        raise ValueError(f"bad glob {pattern!r}: unbalanced '['")
    re.compile(fnmatch.translate(pattern))
    return pattern


Glob = Annotated[str, AfterValidator(check_glob)]


class Config(_Model):
    """A whole ``sources.yaml``: where reports go, what to watch, which skills to flag."""

    report: ReportConfig = ReportConfig()
    http: HttpConfig = HttpConfig()
    email: EmailConfig | None = None
    notify: NotifyConfig | None = None
    alerts: AlertsConfig = AlertsConfig()
    history: HistoryConfig = HistoryConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    sources: list[dict[str, Any]] = []
    skills: list[SkillConfig] = []

    # Filled in by load_config(): typed sources and the folder relative paths start from.
    path: Path = Path("sources.yaml")
    typed_sources: list[SourceConfig] = []
    # The line of every key in the file, by its path of keys ("schedule", "cron").
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def where(self, *keys: Any) -> str:
        """``path:line`` of ``keys`` in the file (of the nearest enclosing key it has), for
        a problem found after loading; just the path when none of them is there."""
        line = next((self._lines[keys[:end]] for end in range(len(keys), 0, -1)
                     if keys[:end] in self._lines), None)
        return f"{self.path}:{line}" if line else str(self.path)

    @property
    def report_dir(self) -> Path:
        return self.base_dir / self.report.dir

    def skill_path(self, skill: SkillConfig) -> Path | None:
        return self.base_dir / skill.path if skill.path else None

    def history_for(self, source: str) -> HistoryConfig:
        """The source's own retention, else the global one."""
        own = next((s.history for s in self.typed_sources if s.name == source), None)
        return own or self.history

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.typed_sources if s.name == name)


@dataclass
class _Located:
    """YAML data plus the line of every node, keyed by its path of keys and indexes."""

    data: Any
    lines: dict[tuple[Any, ...], int]

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        # Walk up to the nearest node that YAML located (a missing key has no line).
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


# Far more than any real sources.yaml holds (hundreds of sources, thousands of globs).
MAX_YAML_NODES = 200_000


def _parse_yaml(text: str, path: Path) -> _Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        opened = getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None) or ""
        if opened is not None and mark is not None and opened.line != mark.line \
                and ("flow" in context or "quoted" in context):
            # An unclosed bracket or quote: the line that opened it is the one to fix.
            line = f":{opened.line + 1}"
            problem += f" ({context} on line {opened.line + 1}, still open on line " \
                       f"{mark.line + 1})"
        raise ConfigError([f"{path}{line}: YAML syntax error: {problem}"]) from None
    lines: dict[tuple[Any, ...], int] = {}
    constructor = yaml.SafeLoader("")
    built = 0

    def build(n: yaml.Node, loc: tuple[Any, ...]) -> Any:
        nonlocal built
        built += 1
        if built > MAX_YAML_NODES:
            # Aliases of aliases multiply: a few hundred bytes can stand for billions.
            raise ConfigError([f"{path}:{n.start_mark.line + 1}: (top level): more than "
                               f"{MAX_YAML_NODES:,} values once its aliases are expanded "
                               "(an alias bomb?)"])
        lines[loc] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = constructor.construct_object(key_node)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise ConfigError(
                        [f"{path}:{key_node.start_mark.line + 1}: {_dotted(loc)}: a key must "
                         f"be a plain value, not a {type(key).__name__}"])
                if key in out:
                    raise ConfigError(
                        [f"{path}:{key_node.start_mark.line + 1}: {_dotted((*loc, key))}: "
                         "duplicate key"]
                    )
                out[key] = build(value_node, (*loc, key))
                lines[(*loc, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(n.value)]
        return constructor.construct_object(n)

    data = build(node, ()) if node is not None else {}
    return _Located(data, lines)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _problems(exc: ValidationError, located: _Located, path: Path, prefix=()) -> Iterator[str]:
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not _is_union_tag(p))
        line = located.line_of(loc)
        where = f"{path}:{line}" if line else str(path)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        message = message.removeprefix("Value error, ")
        yield f"{where}: {_dotted(loc)}: {message}"


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part.startswith("function-")


def _not_a_folder(folder: Path) -> Path | None:
    """The file that keeps ``folder`` from being (or being created as) a folder: itself,
    or the nearest of its parents that exists; None when nothing does."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` listing every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    located = _parse_yaml(text, path)
    if not isinstance(located.data, dict):
        raise ConfigError([f"{path}:1: (top level): expected a mapping with 'sources' "
                           "and 'skills'"])

    problems: list[str] = []
    try:
        config = Config.model_validate(located.data)
    except ValidationError as exc:
        # Report the rest too: one run of the command should show every mistake.
        problems.extend(_problems(exc, located, path))
        raw_sources = located.data.get("sources")
        config = Config(sources=[s for s in raw_sources if isinstance(s, dict)]
                        if isinstance(raw_sources, list) else [])
    config.path = path
    config._lines = located.lines

    names: dict[str, int] = {}
    for i, raw in enumerate(config.sources):
        loc: tuple[Any, ...] = ("sources", i)
        line = located.line_of(loc)
        kind = raw.get("kind") if isinstance(raw, dict) else None
        if kind not in SOURCE_KINDS:
            expected = ", ".join(sorted(SOURCE_KINDS))
            field_line = located.line_of((*loc, "kind"))
            what = "required field is missing" if kind is None else f"unknown source kind {kind!r}"
            problems.append(f"{path}:{field_line}: {_dotted((*loc, 'kind'))}: {what} "
                            f"(expected one of: {expected})")
            continue
        try:
            source = SOURCE_KINDS[kind].Config.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_problems(exc, located, path, loc))
            continue
        if source.name in names:
            problems.append(f"{path}:{located.line_of((*loc, 'name'))}: {_dotted((*loc, 'name'))}: "
                            f"duplicate source name {source.name!r} (first on line "
                            f"{names[source.name]})")
            continue
        names[source.name] = line or 0
        config.typed_sources.append(source)

    for source in config.typed_sources:
        if not make_source(source).probe_urls():
            i = next(j for j, raw in enumerate(config.sources) if raw.get("name") == source.name)
            field = "packages" if "packages" in config.sources[i] else "urls"
            problems.append(f"{path}:{located.line_of(('sources', i, field))}: "
                            f"{_dotted(('sources', i, field))}: nothing to crawl (empty)")
    blocker = _not_a_folder(config.report_dir)
    if blocker is not None:
        where = "" if blocker == config.report_dir else f"{config.report_dir} cannot be made: "
        problems.append(f"{path}:{located.line_of(('report', 'dir'))}: report.dir: "
                        f"{where}{blocker} is a file, not a folder")

    seen_skills: set[str] = set()
    for i, skill in enumerate(config.skills):
        loc = ("skills", i)
        if skill.name in seen_skills:
            problems.append(f"{path}:{located.line_of((*loc, 'name'))}: {_dotted((*loc, 'name'))}: "
                            f"duplicate skill name {skill.name!r}")
        seen_skills.add(skill.name)
        skill_file = config.skill_path(skill)
        if skill_file is not None and not skill_file.is_file():
            problems.append(f"{path}:{located.line_of((*loc, 'path'))}: {_dotted((*loc, 'path'))}: "
                            f"skill file not found: {skill_file}")
        elif skill_file is not None:
            try:
                skill_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{path}:{located.line_of((*loc, 'path'))}: "
                                f"{_dotted((*loc, 'path'))}: skill file {skill_file} cannot be "
                                f"read as UTF-8 text: {exc}")
    problems.extend(_schedule_problems(config, located, path))
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return config


def _schedule_problems(config: Config, located: _Located, path: Path) -> list[str]:
    """The schedule's time zone and cron expression, and each source's own cron, read
    the way ``docwatch schedule`` will: a crawl is refused a schedule that cannot run."""
    own = [(j, raw.get("schedule")) for j, raw in enumerate(config.sources)
           if isinstance(raw, dict) and raw.get("schedule")]
    if ("schedule",) not in located.lines and not own:
        return []  # the defaults run: nothing to read (and no scheduler to import)
    from crawler.cron import make_trigger, parse_timezone

    timezone = config.schedule.timezone
    try:
        parse_timezone(timezone)
    except ValueError as exc:
        return [f"{path}:{located.line_of(('schedule', 'timezone'))}: schedule.timezone: {exc}"]
    out = []
    for loc, cron in [(("schedule", "cron"), config.schedule.cron),
                      *((("sources", j, "schedule"), c) for j, c in own)]:
        try:
            make_trigger(str(cron), timezone)
        except ValueError as exc:
            out.append(f"{path}:{located.line_of(loc)}: {_dotted(loc)}: {exc}")
    return out


__all__ = ["DEFAULT_CONFIG", "AlertsConfig", "Config", "ConfigError", "EmailConfig", "HttpConfig",
           "NotifyConfig", "ReportConfig", "ScheduleConfig", "SkillConfig", "check_http_url",
           "load_config"]
