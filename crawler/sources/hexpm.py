"""``kind: hexpm``: package releases from the hex.pm API.

Each release is an item (new releases are reported once the baseline is recorded),
and each package has one more item holding its latest versions, whose change is the
"latest stable" bump the report calls out. Download counters are left out: they
change every day and mean nothing to a skill.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from pydantic import field_validator

from crawler.http import FetchError
from crawler.sources.base import (
    BaseSource,
    CrawlContext,
    Document,
    Emit,
    Failure,
    SourceConfig,
    check_http_url,
)

DEFAULT_API = "https://hex.pm/api/packages/"
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?")


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


def parse_version(version: str) -> tuple[int, int, int, str] | None:
    match = VERSION.match(version)
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), pre or ""


def bump_kind(old: str | None, new: str | None) -> str | None:
    """``major``, ``minor`` or ``patch`` for a version change, else None."""
    a, b = parse_version(old or ""), parse_version(new or "")
    if not a or not b or b[:3] <= a[:3]:
        return None
    if b[0] != a[0]:
        return "major"
    return "minor" if b[1] != a[1] else "patch"


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
        try:
            response = await ctx.fetcher.get(url, accept="application/json")
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
        for doc in package_documents(data, url):
            await emit(doc)


def package_documents(data: dict[str, Any], api_url: str) -> list[Document]:
    """The package-state item and one item per release of a hex.pm package document."""
    name = str(data.get("name") or api_url.rstrip("/").rsplit("/", 1)[-1])
    html_url = str(data.get("html_url") or f"https://hex.pm/packages/{name}")
    docs_url = str(data.get("docs_html_url") or f"https://hexdocs.pm/{name}/")
    links = (data.get("meta") or {}).get("links") or {}
    changelog = next((str(v) for k, v in links.items() if k.lower() == "changelog"), None)
    stable, latest = data.get("latest_stable_version"), data.get("latest_version")
    docs = [Document(
        html_url, name, f"# {name}\n\nlatest stable version: {stable}\nlatest version: {latest}\n",
        api_url, representation="json", item="package", group=name,
        meta={"package": name, "latest_stable_version": stable, "latest_version": latest,
              "docs_url": docs_url, "link": html_url})]
    for release in data["releases"]:
        version = str(release.get("version", ""))
        parsed = parse_version(version)
        if not parsed:
            continue
        published = release.get("inserted_at")
        prerelease = bool(parsed[3])
        release_docs = f"{docs_url.rstrip('/')}/{version}/"
        docs.append(Document(
            f"{html_url.rstrip('/')}/{version}", f"{name} {version}",
            f"# {name} {version}\n\npublished: {published}\n"
            f"pre-release: {'yes' if prerelease else 'no'}\n",
            api_url, representation="json", item="release", group=name,
            meta={"package": name, "version": version, "published_at": published,
                  "prerelease": prerelease, "docs_url": release_docs,
                  "changelog_url": changelog or f"{docs_url.rstrip('/')}/changelog.html",
                  "link": f"{html_url.rstrip('/')}/{version}"}))
    return docs
