"""Release checks and tagging for ei-usage; ``make release`` runs this (README.md, "Releasing").

``check`` proves, without changing anything, that a release can be cut from this checkout:

- ``wrapper/ei_usage/_version.py`` holds a plain semantic version ``X.Y.Z``;
- the CHANGELOG's newest released section is ``## [X.Y.Z] - YYYY-MM-DD`` for that same version,
  dated no later than today, with entries, one step above the section before it, and nothing
  left under ``## [Unreleased]``; every level-2 heading is well formed;
- every file in ``generated/`` names the sha256 of the committed spec slice and generator config
  in its header (``make check-generated``, run by ``make test``, then proves the whole output);
- the git tree is clean (untracked files included: the sdist could pick them up) and the tag
  ``vX.Y.Z`` is either absent or already on ``HEAD``, and the version is above every other tag.

``tag`` runs the same checks, checks that ``dist/`` holds exactly this version's wheel and sdist,
creates the annotated tag ``vX.Y.Z`` on ``HEAD`` (unless it is there already), checks that the
tag is there, annotated and on ``HEAD`` (failing otherwise: a lightweight tag is refused) and prints
the steps that publish the release, pushing the tag included: a git pin by tag works only once the
tag is on the git host. Nothing is pushed or uploaded.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

VERSION_FILE = Path("wrapper/ei_usage/_version.py")
CHANGELOG = Path("CHANGELOG.md")
SPEC = Path("openapi/edge-impulse.yaml")
CONFIG = Path("generator-config.yaml")
GENERATED = Path("generated/edge_impulse_api_client")
DIST = Path("dist")
DISTRIBUTION = "ei_usage"  # the normalized name in artifact file names

# Semantic versioning's core (no leading zeros); pre-releases are not used by this project.
_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_LEVEL2 = re.compile(r"##(?!#)")
_UNRELEASED = re.compile(r"## \[Unreleased\]")
_RELEASED = re.compile(r"## \[(?P<version>[^\]\s]+)\] - (?P<date>\d{4}-\d{2}-\d{2})")
_LINK_REFERENCE = re.compile(r"\[(?P<label>[^\]\s]+)\]:\s*\S+")
_SUBSECTION = re.compile(r"### \S")
_ENTRY = re.compile(r"[-*] \S")
_HEADER_HASH = re.compile(
    r"# (?P<kind>Spec|Config):\s+(?P<path>\S+) (?:content )?sha256 (?P<sha>[0-9a-f]{64})"
)
_GENERATE = Path(__file__).resolve().parents[1] / "openapi" / "tools" / "generate.py"
_HEADER_LINES = 8  # generate.py writes a six-line header at the top of every file


class ReleaseError(Exception):
    """A release cannot be cut; the message says why and what to do."""


@dataclass(frozen=True, order=True)
class Version:
    """A semantic version ``major.minor.patch``."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``X.Y.Z``.

        Raises:
            ValueError: ``text`` is not a plain semantic version.
        """
        match = _SEMVER.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a semantic version X.Y.Z")
        return cls(*(int(part) for part in match.groups()))

    def next_versions(self) -> tuple[Version, Version, Version]:
        """Return the versions that may follow this one: major, minor and patch bumps."""
        return (
            Version(self.major + 1, 0, 0),
            Version(self.major, self.minor + 1, 0),
            Version(self.major, self.minor, self.patch + 1),
        )

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Release:
    """One released section of the CHANGELOG."""

    version: Version
    date: date
    body: str
    line: int  # 1-based line number of its heading


@dataclass(frozen=True)
class Changelog:
    """The parts of a Keep-a-Changelog file that a release depends on."""

    unreleased: str  # body of ``## [Unreleased]``
    releases: tuple[Release, ...]  # in file order: newest first
    link_labels: frozenset[str]  # labels of link reference definitions (``[0.2.0]: URL``)


def read_version(text: str) -> Version:
    """Read ``__version__`` from the text of ``_version.py`` without executing it.

    Raises:
        ReleaseError: there is no single string ``__version__``, or it is not ``X.Y.Z``.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise ReleaseError(f"{VERSION_FILE} is not valid Python: {error}") from error
    values = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(target, "id", None) for target in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    if len(values) != 1:
        raise ReleaseError(f"{VERSION_FILE} must assign __version__ a string literal exactly once")
    try:
        return Version.parse(values[0])
    except ValueError as error:
        raise ReleaseError(f"{VERSION_FILE}: {error}") from error


def parse_changelog(text: str) -> Changelog:
    """Split a CHANGELOG into its Unreleased body and released sections.

    Raises:
        ReleaseError: a level-2 heading is neither ``## [Unreleased]`` nor
            ``## [X.Y.Z] - YYYY-MM-DD`` (with a real date), or ``[Unreleased]`` is missing,
            repeated or not the first section.
    """
    lines = text.splitlines()
    problems: list[str] = []
    headings: list[tuple[int, Version | None, date | None]] = []  # (index, version, date)
    for index, line in enumerate(lines):
        if not _LEVEL2.match(line):
            continue
        number = index + 1
        if _UNRELEASED.fullmatch(line.rstrip()):
            headings.append((index, None, None))
            continue
        match = _RELEASED.fullmatch(line.rstrip())
        if match is None:
            problems.append(
                f"CHANGELOG.md line {number}: {line.strip()!r} is not "
                "'## [Unreleased]' or '## [X.Y.Z] - YYYY-MM-DD'"
            )
            continue
        try:
            version = Version.parse(match["version"])
            released = date.fromisoformat(match["date"])
        except ValueError as error:
            problems.append(f"CHANGELOG.md line {number}: {error}")
            continue
        headings.append((index, version, released))
    if problems:
        raise ReleaseError("\n".join(problems))
    if not headings or headings[0][1] is not None:
        raise ReleaseError("CHANGELOG.md must start its sections with '## [Unreleased]'")
    if any(version is None for _, version, _ in headings[1:]):
        raise ReleaseError("CHANGELOG.md has more than one '## [Unreleased]' section")

    links = frozenset(
        match["label"]
        for line in lines
        if (match := _LINK_REFERENCE.fullmatch(line.strip())) is not None
    )

    def body(start: int, end: int) -> str:
        kept = [line for line in lines[start:end] if not _LINK_REFERENCE.fullmatch(line.strip())]
        return "\n".join(kept).strip("\n")

    ends = [index for index, _, _ in headings[1:]] + [len(lines)]
    unreleased = body(headings[0][0] + 1, ends[0])
    releases = tuple(
        Release(version=version, date=released, body=body(index + 1, end), line=index + 1)
        for (index, version, released), end in zip(headings[1:], ends[1:], strict=True)
        if version is not None and released is not None
    )
    return Changelog(unreleased=unreleased, releases=releases, link_labels=links)


def has_entries(body: str) -> bool:
    """Tell whether a section body lists anything (subsection headings alone do not count)."""
    return any(line.strip() and not _SUBSECTION.match(line.strip()) for line in body.splitlines())


def check_changelog(changelog: Changelog, version: Version, today: date) -> list[str]:
    """Check that ``changelog`` releases ``version`` properly; return the problems found."""
    problems: list[str] = []
    if not changelog.releases:
        return [
            f"CHANGELOG.md has no released section: move the [Unreleased] entries under "
            f"'## [{version}] - {today.isoformat()}'"
        ]
    newest = changelog.releases[0]
    if newest.version != version:
        problems.append(
            f"{VERSION_FILE} says {version} but CHANGELOG.md's newest release is "
            f"{newest.version} (line {newest.line}): the two must name the release being cut"
        )
    if newest.date > today:
        problems.append(f"CHANGELOG.md line {newest.line}: {newest.date} is in the future")
    if not any(_ENTRY.match(line.strip()) for line in newest.body.splitlines()):
        problems.append(f"CHANGELOG.md line {newest.line}: the {newest.version} section is empty")
    if has_entries(changelog.unreleased):
        problems.append(
            "CHANGELOG.md: [Unreleased] still has entries; at release time they move under "
            f"'## [{newest.version}] - {newest.date}' (they would ship in the tag unannounced)"
        )
    seen: set[Version] = set()
    for release in changelog.releases:
        if release.version in seen:
            problems.append(f"CHANGELOG.md line {release.line}: {release.version} appears twice")
        seen.add(release.version)
    for newer, older in zip(changelog.releases, changelog.releases[1:], strict=False):
        if newer.version <= older.version:
            problems.append(
                f"CHANGELOG.md line {newer.line}: sections must run newest first "
                f"({newer.version} above {older.version})"
            )
        elif newer is newest and newer.version not in older.version.next_versions():
            allowed = ", ".join(str(v) for v in older.version.next_versions())
            problems.append(
                f"CHANGELOG.md line {newer.line}: {newer.version} skips versions after "
                f"{older.version} (one of {allowed} is next)"
            )
        if newer.date < older.date:
            problems.append(
                f"CHANGELOG.md line {newer.line}: {newer.version} is dated {newer.date}, "
                f"before {older.version} ({older.date})"
            )
    if changelog.link_labels and str(newest.version) not in changelog.link_labels:
        problems.append(
            f"CHANGELOG.md uses link references but has none for [{newest.version}]: "
            f"add '[{newest.version}]: <URL of the v{newest.version} tag>' at the bottom"
        )
    return problems


def _generate_tool() -> Any:
    """Load openapi/tools/generate.py, the one place that says how headers hash the slice."""
    spec = importlib.util.spec_from_file_location("ei_generate", _GENERATE)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repository
        raise ReleaseError(f"cannot load {_GENERATE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_generated(root: Path) -> list[str]:
    """Check that every generated file was made from the spec slice and config in ``root``."""
    expected = {
        # The spec's hash is of its content, by generate.py's own rule (not its comment header).
        "Spec": (SPEC.as_posix(), _generate_tool().content_sha256(root / SPEC)),
        "Config": (CONFIG.as_posix(), hashlib.sha256((root / CONFIG).read_bytes()).hexdigest()),
    }
    files = sorted(
        path
        for path in (root / GENERATED).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    if not files:
        return [f"{GENERATED} is empty or missing: run `make generate`"]
    problems: list[str] = []
    for path in files:
        name = path.relative_to(root).as_posix()
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = [handle.readline() for _ in range(_HEADER_LINES)]
        found = {
            match["kind"]: (match["path"], match["sha"])
            for line in head
            if (match := _HEADER_HASH.fullmatch(line.strip())) is not None
        }
        for kind, want in expected.items():
            if kind not in found:
                problems.append(f"{name}: no generated-code header naming the {kind.lower()}")
            elif found[kind] != want:
                problems.append(
                    f"{name}: generated from another {kind.lower()} ({found[kind][0]} sha256 "
                    f"{found[kind][1][:12]}...), not the committed {want[0]}: run `make generate`"
                )
    return problems


def check_tag(version: Version, head: str, tags: Mapping[str, str]) -> bool:
    """Decide whether ``v<version>`` must be created.

    Args:
        version: the version being released.
        head: the commit being released.
        tags: every ``vX.Y.Z`` tag and the commit it points to.

    Returns:
        True if the tag must be created, False if it already points at ``head``.

    Raises:
        ReleaseError: the tag points at another commit, or an existing tag names a version at or
            above this one.
    """
    name = f"v{version}"
    if name in tags:
        if tags[name] != head:
            raise ReleaseError(
                f"tag {name} already exists on {tags[name][:12]}, not on HEAD {head[:12]}: "
                "a released version is never moved; bump the version for a new release"
            )
        return False
    for other, _commit in sorted(tags.items()):
        try:
            other_version = Version.parse(other.removeprefix("v"))
        except ValueError:
            continue  # not a release tag
        if other_version >= version:
            raise ReleaseError(f"tag {other} exists: {version} must be above every release")
    return True


def check_dist(dist: Path, version: Version) -> list[str]:
    """Check that ``dist`` holds exactly this version's wheel and sdist, and nothing else."""
    wheel = dist / f"{DISTRIBUTION}-{version}-py3-none-any.whl"
    sdist = dist / f"{DISTRIBUTION}-{version}.tar.gz"
    present = sorted(path.name for path in dist.iterdir()) if dist.is_dir() else []
    problems = [
        f"{dist}/{path.name} is missing: run `make dist`"
        for path in (wheel, sdist)
        if path.name not in present
    ]
    problems.extend(
        f"{dist}/{name} does not belong to release {version}: run `make dist`"
        for name in present
        if name not in {wheel.name, sdist.name}
    )
    if wheel.name in present:
        try:
            with zipfile.ZipFile(wheel) as archive:
                raw = archive.read(f"{DISTRIBUTION}-{version}.dist-info/METADATA")
        except (KeyError, zipfile.BadZipFile) as error:
            problems.append(f"{wheel}: unreadable metadata ({error})")
        else:
            metadata = HeaderParser().parsestr(raw.decode("utf-8"))
            if metadata["Version"] != str(version):
                problems.append(f"{wheel}: metadata says version {metadata['Version']}")
    return problems


def _git(root: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def git_dirty(root: Path) -> list[str]:
    """Return ``git status`` lines for every uncommitted change, untracked files included."""
    return _git(root, "status", "--porcelain=v1", "--untracked-files=all").splitlines()


def git_head(root: Path) -> str:
    """Return the commit id of ``HEAD``."""
    return _git(root, "rev-parse", "--verify", "HEAD^{commit}").strip()


def git_release_tags(root: Path) -> dict[str, str]:
    """Return every ``v*`` tag and the commit it points to."""
    # %(*objectname) is the commit an annotated tag points to; empty for a lightweight tag.
    fields = "--format=%(refname:short) %(*objectname) %(objectname)"
    out = _git(root, "for-each-ref", fields, "refs/tags/v*")
    tags: dict[str, str] = {}
    for line in out.splitlines():
        name, *objects = line.split()
        tags[name] = objects[0]  # the peeled commit for annotated tags, else the commit
    return tags


def git_tag_kind(root: Path, name: str) -> str:
    """Return the type of what ``refs/tags/<name>`` names: ``tag`` if annotated, else ``commit``."""
    return _git(root, "cat-file", "-t", f"refs/tags/{name}").strip()


def _lightweight(name: str) -> str:
    return (
        f"tag {name} is a lightweight tag: a release tag is annotated (it carries the CHANGELOG "
        f"section); if it was never pushed, `git tag --delete {name}` and rerun"
    )


def check_created_tag(root: Path, version: Version, head: str) -> None:
    """Check that the annotated tag ``v<version>`` is in the repository and points at ``head``.

    Raises:
        ReleaseError: the tag is missing, lightweight or on another commit.
    """
    name = f"v{version}"
    commit = git_release_tags(root).get(name)
    if commit is None:
        raise ReleaseError(f"tag {name} was not created: run `git tag --annotate {name}` by hand")
    if git_tag_kind(root, name) != "tag":
        raise ReleaseError(_lightweight(name))
    if commit != head:
        raise ReleaseError(f"tag {name} is on {commit[:12]}, not on HEAD {head[:12]}")


def run_checks(root: Path, today: date) -> tuple[Version, Release, str, bool]:
    """Run every check on the checkout at ``root``.

    Returns:
        The version, its CHANGELOG section, the ``HEAD`` commit and whether the tag is missing.

    Raises:
        ReleaseError: listing every problem found.
    """
    version = read_version((root / VERSION_FILE).read_text(encoding="utf-8"))
    changelog = parse_changelog((root / CHANGELOG).read_text(encoding="utf-8"))
    problems = check_changelog(changelog, version, today)
    problems.extend(check_generated(root))
    dirty = git_dirty(root)
    if dirty:
        problems.append(
            "the git tree is not clean (commit or remove these first):\n"
            + "\n".join(f"    {line}" for line in dirty)
        )
    head = git_head(root)
    try:
        create = check_tag(version, head, git_release_tags(root))
        if not create and git_tag_kind(root, f"v{version}") != "tag":
            raise ReleaseError(_lightweight(f"v{version}"))
    except ReleaseError as error:
        problems.append(str(error))
        create = False
    if problems:
        raise ReleaseError("\n".join(f"- {problem}" for problem in problems))
    return version, changelog.releases[0], head, create


def next_steps(
    version: Version,
    head: str,
    artifacts: Sequence[str],
    *,
    remote: str,
    branch: str,
    upload_url: str | None,
) -> str:
    """Describe what publishes a tagged release; nothing described here has been done yet.

    Args:
        version: the released version.
        head: the tagged commit.
        artifacts: the wheel and sdist, relative to the repository root.
        remote: the git remote to push to.
        branch: the branch holding the release commit.
        upload_url: the internal index's upload URL, if known (``TWINE_REPOSITORY_URL``).
    """
    tag = f"v{version}"
    lines = [
        f"Release {version}: annotated tag {tag} is on {head[:12]}; checked artifacts:",
        *(f"    {name}" for name in artifacts),
        "",
        "Nothing has been pushed or uploaded. To publish:",
        "  1. Push the release commit, then the tag:",
        f"       git push {remote} {branch}",
        f"       git push {remote} {tag}",
        "  2. Upload both artifacts to the internal index:",
        f"       .venv/bin/twine upload --repository-url {upload_url or 'UPLOAD_URL'} \\",
        f"           {' '.join(artifacts)}",
    ]
    if upload_url is None:
        lines.append(
            "     (UPLOAD_URL: the internal index's upload URL; with TWINE_REPOSITORY_URL set, "
            "make release prints it here)"
        )
    lines.append(f"  3. Tools can now pin ei-usage=={version} (README.md, 'Pinning a version').")
    return "\n".join(lines)


def _tag(root: Path, version: Version, release: Release) -> None:
    message = f"ei-usage {version}\n\n{release.body.strip()}\n"
    # Whitespace cleanup only: the default also strips lines starting with "#", the subsections.
    _git(
        root,
        "tag",
        "--annotate",
        "--cleanup=whitespace",
        "--file=-",
        f"v{version}",
        "HEAD",
        stdin=message,
    )


def main(argv: Sequence[str] | None = None, today: date | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["check", "tag"])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="repository root (default: this checkout)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    today = today or datetime.now(UTC).date()
    try:
        version, release, head, create = run_checks(root, today)
        if args.command == "check":
            state = "to be created" if create else "already on HEAD"
            print(f"release check: {version} is ready to build (tag v{version} {state})")
            return 0
        problems = check_dist(root / DIST, version)
        if problems:
            raise ReleaseError("\n".join(f"- {problem}" for problem in problems))
        if create:
            _tag(root, version, release)
        # Whether just created or already there: what users pin must be this annotated tag.
        check_created_tag(root, version, head)
        remotes = _git(root, "remote").split()
        branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD").strip()
        artifacts = sorted(f"{DIST}/{path.name}" for path in (root / DIST).iterdir())
        print(
            next_steps(
                version,
                head,
                artifacts,
                remote="origin" if "origin" in remotes or not remotes else remotes[0],
                branch="HEAD:main" if branch == "HEAD" else branch,  # detached
                upload_url=os.environ.get("TWINE_REPOSITORY_URL") or None,
            )
        )
        return 0
    except ReleaseError as error:
        print(f"release {args.command}: cannot release:\n{error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
