"""``kind: hexpm``: package releases from the hex.pm API.

Each release is an item (new releases are reported once the baseline is recorded),
and each package has one more item holding its latest versions, whose change is the
"latest stable" bump the report calls out. Download counters are left out: they
change every day and mean nothing to a skill.

The latest stable version is ours: the highest release that is neither a pre-release
nor retired (hex.pm's ``latest_stable_version`` does not skip retired releases). A
retired release says so, with the reason and message; one retired after it was
recorded becomes a modified release. The package document is asked conditionally:
a 304 keeps the package and every release as recorded.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from pydantic import field_validator

from crawler.extract import without_controls
from crawler.http import FetchError, Validators
from crawler.sources.base import (
    BaseSource,
    CrawlContext,
    Document,
    Emit,
    Failure,
    SourceConfig,
    Unchanged,
    check_http_url,
)
from crawler.types import Item, Retirement
from crawler.versions import parse_version

DEFAULT_API = "https://hex.pm/api/packages/"
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class HexpmConfig(SourceConfig):
    kind: str = "hexpm"
    api: str = DEFAULT_API
    packages: list[str] = []

    @field_validator("api")
    @classmethod
    def _api_url(cls, api: str) -> str:
        check_http_url(api)
        return api if api.endswith("/") else api + "/"

    @field_validator("packages")
    @classmethod
    def _package_names(cls, packages: list[str]) -> list[str]:
        for name in packages:
            if not PACKAGE_NAME.match(name):
                raise ValueError(f"not a hex package name: {name!r}")
        return packages


class HexpmSource(BaseSource):
    kind: ClassVar[str] = "hexpm"
    Config: ClassVar[type[SourceConfig]] = HexpmConfig
    config: HexpmConfig

    def targets(self) -> list[str]:
        return list(self.config.packages)

    def probe_urls(self) -> list[str]:
        return [f"{self.config.api}{name}" for name in self.config.packages]

    async def crawl_one(self, ctx: CrawlContext, name: str, emit: Emit) -> None:
        url = f"{self.config.api}{name}"
        # What the last run remembered of the package: its document's validators and the
        # URLs of the items it gave (kept in ctx.targets, a row per package).
        known = ctx.targets.remembered(name) or {}
        # Asked conditionally only when the stored validators are those of the recorded
        # items (a run killed half-way leaves others) and we know which items to keep.
        stored = ctx.validators_for(url)
        conditional = (stored if stored is not None and known.get("items")
                       and stored == Validators.from_stored(known.get("validators")) else None)
        try:
            response = await ctx.fetcher.get(url, conditional, accept="application/json")
            if response.not_modified:
                if conditional is None:
                    raise ValueError("304 to an unconditional request")
                validators = Validators(response.validators.etag or conditional.etag,
                                        response.validators.last_modified
                                        or conditional.last_modified)
                for item in known["items"]:
                    await emit(Unchanged(item, validators))
                ctx.targets.remember(name, {**known, "validators": validators.stored()})
                return
            data = json.loads(response.content)
            if not isinstance(data, dict) or not isinstance(data.get("releases"), list):
                raise ValueError("no releases list")
        except FetchError as exc:
            await emit(Failure(url, f"hex.pm API: {exc.message}", exc.attempts, exc.status,
                               page=False))
            return
        except ValueError as exc:
            await emit(Failure(url, f"hex.pm API: not a package document ({exc})", page=False))
            return
        docs = package_documents(data, url, response.validators)
        for doc in docs:
            await emit(doc)
        remembered = response.validators.stored()
        # No validators: nothing to ask conditionally next time, so nothing to remember.
        ctx.targets.remember(name, {"validators": remembered, "items": [doc.url for doc in docs]}
                             if remembered else {})


def retirements(data: dict[str, Any]) -> dict[str, Retirement]:
    """``{version: {"reason", "message"}}`` from the package's ``retirements`` map (and a
    release's own ``retirement``, as a release document has it)."""
    found: dict[str, Retirement] = {}
    listed = data.get("retirements")
    items = [*(listed.items() if isinstance(listed, dict) else []),
             *((str(r.get("version", "")), r.get("retirement")) for r in data["releases"]
               if isinstance(r, dict))]
    for version, retirement in items:
        if isinstance(retirement, dict) and version not in found:
            found[str(version)] = {"reason": str(retirement.get("reason") or "other"),
                                   "message": str(retirement.get("message") or "")}
    return found


def latest_stable(data: dict[str, Any], retired: dict[str, Retirement]) -> str | None:
    """The highest release that is neither a pre-release nor retired; hex.pm's own
    ``latest_stable_version`` (unless retired) when no release version can be read."""
    versions = [str(r.get("version", "")) for r in data["releases"] if isinstance(r, dict)]
    parsed = {v: p for v in versions if (p := parse_version(v)) is not None}
    stable = [v for v, p in parsed.items() if not p[3] and v not in retired]
    if stable:
        return max(stable, key=lambda v: parsed[v][:3])
    if parsed:
        return None  # every stable release is retired, or there is none yet
    given = data.get("latest_stable_version")
    return str(given) if given and str(given) not in retired else None


def package_documents(data: dict[str, Any], api_url: str,
                      validators: Validators | None = None) -> list[Document]:
    """One item per release of a hex.pm package document, then the package-state item."""
    validators = validators or Validators()
    name = str(data.get("name") or api_url.rstrip("/").rsplit("/", 1)[-1])
    html_url = str(data.get("html_url") or f"https://hex.pm/packages/{name}")
    # Either form (https://NAME.hexdocs.pm/ or https://hexdocs.pm/NAME/), as given.
    docs_url = str(data["docs_html_url"]) if data.get("docs_html_url") else None
    links = (data.get("meta") or {}).get("links") or {}
    changelog = next((str(v) for k, v in links.items() if k.lower() == "changelog"), None)
    if changelog is None and docs_url:
        changelog = f"{docs_url.rstrip('/')}/changelog.html"
    retired = retirements(data)
    stable, latest = latest_stable(data, retired), data.get("latest_version")
    docs = []
    for release in data["releases"]:
        if not isinstance(release, dict):
            continue
        version = str(release.get("version", ""))
        parsed = parse_version(version)
        if not parsed:
            continue
        published = release.get("inserted_at")
        prerelease = bool(parsed[3])
        has_docs = release.get("has_docs", True) is not False
        release_docs = f"{docs_url.rstrip('/')}/{version}/" if docs_url and has_docs else None
        retirement = retired.get(version)
        text = (f"# {name} {version}\n\npublished: {published}\n"
                f"pre-release: {'yes' if prerelease else 'no'}\n")
        if retirement:  # the maintainer's own words: no control characters
            text += without_controls(f"retired: {retirement['reason']}" + (
                f": {retirement['message']}\n" if retirement["message"] else "\n"))
        docs.append(Document(
            f"{html_url.rstrip('/')}/{version}", f"{name} {version}", text,
            api_url, validators, representation="json", item=Item.RELEASE, group=name,
            meta={"package": name, "version": version, "published_at": published,
                  "prerelease": prerelease, "docs_url": release_docs,
                  "changelog_url": changelog, "retired": retirement,
                  "link": f"{html_url.rstrip('/')}/{version}"}))
    # Last: once it is recorded, so are the releases it sums up.
    docs.append(Document(
        html_url, name, f"# {name}\n\nlatest stable version: {stable}\nlatest version: {latest}\n",
        api_url, validators, representation="json", item=Item.PACKAGE, group=name,
        meta={"package": name, "latest_stable_version": stable, "latest_version": latest,
              "docs_url": docs_url, "link": html_url}))
    return docs
