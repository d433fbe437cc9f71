"""tools/release.py: the checks `make release` runs before it tags, on synthetic inputs.

None of these run `make test` or build anything: the checks are pure functions over text and
files, and the git steps run in throwaway repositories.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tarfile
import zipfile
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "release.py"
TODAY = date(2026, 3, 10)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ei_release", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


release = _load()
Version = release.Version
ReleaseError = release.ReleaseError

HEAD = "## [Unreleased]\n"
PREAMBLE = "# Changelog\n\nAll notable changes.\n\n"


def changelog(*sections: str, unreleased: str = "", links: str = "") -> str:
    return PREAMBLE + HEAD + unreleased + "\n" + "\n".join(sections) + links


def section(version: str, when: str = "2026-03-01", body: str = "### Added\n- Something.\n") -> str:
    return f"## [{version}] - {when}\n\n{body}"


def problems_for(text: str, version: str = "0.2.0") -> list[str]:
    parsed = release.parse_changelog(text)
    result: list[str] = release.check_changelog(parsed, Version.parse(version), TODAY)
    return result


# Versions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0.2.0", "1.0.0", "10.20.30"])
def test_semantic_versions_parse_and_print_back(text: str) -> None:
    assert str(Version.parse(text)) == text


@pytest.mark.parametrize("text", ["0.2", "v0.2.0", "01.2.3", "0.2.0rc1", "0.2.0-rc.1", " 0.2.0"])
def test_anything_but_plain_x_y_z_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        Version.parse(text)


def test_versions_order_numerically_not_as_text() -> None:
    assert Version.parse("0.10.0") > Version.parse("0.9.0")
    assert Version.parse("0.2.0").next_versions() == (
        Version(1, 0, 0),
        Version(0, 3, 0),
        Version(0, 2, 1),
    )


def test_version_is_read_without_running_the_file() -> None:
    text = '"""Doc."""\n\nimport os\n__version__ = "0.2.0"\nos.exit(1)\n'
    assert release.read_version(text) == Version(0, 2, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("VERSION = '0.2.0'\n", "exactly once"),
        ("__version__ = '0.2.0'\n__version__ = '0.3.0'\n", "exactly once"),
        ("__version__ = get_version()\n", "exactly once"),
        ("__version__ = '0.2'\n", "not a semantic version"),
        ("__version__ = \n", "not valid Python"),
    ],
)
def test_a_version_file_without_one_literal_version_is_refused(text: str, message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        release.read_version(text)


def test_the_real_version_file_reads() -> None:
    text = (ROOT / "wrapper" / "ei_usage" / "_version.py").read_text()
    assert isinstance(release.read_version(text), Version)


# CHANGELOG parsing -------------------------------------------------------------------------------


def test_a_changelog_splits_into_unreleased_and_releases_newest_first() -> None:
    text = changelog(
        section("0.2.0", "2026-03-01", "### Added\n- Two.\n"),
        section("0.1.0", "2026-01-05", "### Added\n- One.\n"),
        unreleased="\n### Added\n- Pending.\n",
    )
    parsed = release.parse_changelog(text)
    assert "- Pending." in parsed.unreleased
    assert [(r.version, r.date) for r in parsed.releases] == [
        (Version(0, 2, 0), date(2026, 3, 1)),
        (Version(0, 1, 0), date(2026, 1, 5)),
    ]
    assert parsed.releases[0].body.strip() == "### Added\n- Two."
    assert parsed.releases[0].line == text.splitlines().index("## [0.2.0] - 2026-03-01") + 1


@pytest.mark.parametrize(
    ("heading", "message"),
    [
        ("## 0.2.0 - 2026-03-01", "is not '## \\[Unreleased\\]'"),
        ("## [0.2.0]", "is not"),
        ("## [0.2.0] 2026-03-01", "is not"),
        ("## [0.2.0] - 1 March 2026", "is not"),
        ("## [0.2] - 2026-03-01", "not a semantic version"),
        ("## [0.2.0] - 2026-13-01", "month must be in 1..12"),
        ("## [unreleased]", "is not"),
        ("##[0.2.0] - 2026-03-01", "is not"),
    ],
)
def test_a_malformed_section_heading_is_named_with_its_line(heading: str, message: str) -> None:
    text = changelog(heading + "\n\n### Added\n- Two.\n")
    line = text.splitlines().index(heading) + 1
    with pytest.raises(ReleaseError, match=message) as raised:
        release.parse_changelog(text)
    assert f"line {line}" in str(raised.value)


def test_subsection_headings_are_not_sections() -> None:
    text = changelog(section("0.2.0", body="### Added\n- A.\n#### Detail\n- B.\n"))
    assert len(release.parse_changelog(text).releases) == 1


@pytest.mark.parametrize(
    "text",
    [
        PREAMBLE + section("0.2.0"),  # no Unreleased at all
        PREAMBLE + section("0.2.0") + "\n" + HEAD,  # Unreleased below a release
        PREAMBLE + HEAD + "\n" + HEAD + "\n" + section("0.2.0"),
    ],
)
def test_unreleased_must_come_first_exactly_once(text: str) -> None:
    with pytest.raises(ReleaseError, match="Unreleased"):
        release.parse_changelog(text)


# CHANGELOG checks --------------------------------------------------------------------------------


def test_a_proper_release_section_passes() -> None:
    assert problems_for(changelog(section("0.2.0"), section("0.1.0", "2026-01-05"))) == []


def test_the_first_release_needs_no_predecessor() -> None:
    assert problems_for(changelog(section("0.2.0"))) == []


def test_empty_subsection_headings_under_unreleased_are_fine() -> None:
    text = changelog(section("0.2.0"), unreleased="\n### Added\n\n### Fixed\n")
    assert problems_for(text) == []


def test_an_only_unreleased_changelog_says_what_to_write() -> None:
    (problem,) = problems_for(changelog(unreleased="\n### Added\n- Pending.\n"))
    assert "no released section" in problem
    assert "'## [0.2.0] - 2026-03-10'" in problem


def test_a_version_that_differs_from_the_newest_section_is_refused() -> None:
    (problem,) = problems_for(changelog(section("0.2.0"), section("0.1.0", "2026-01-05")), "0.3.0")
    assert "says 0.3.0 but CHANGELOG.md's newest release is 0.2.0" in problem


def test_a_version_already_released_is_refused() -> None:
    (problem,) = problems_for(changelog(section("0.2.0"), section("0.1.0", "2026-01-05")), "0.1.0")
    assert "says 0.1.0" in problem


def test_entries_left_under_unreleased_are_refused() -> None:
    (problem,) = problems_for(changelog(section("0.2.0"), unreleased="\n### Fixed\n- Late.\n"))
    assert "[Unreleased] still has entries" in problem


def test_an_empty_release_section_is_refused() -> None:
    (problem,) = problems_for(changelog(section("0.2.0", body="### Added\n\n")))
    assert "the 0.2.0 section is empty" in problem


def test_a_release_dated_in_the_future_is_refused() -> None:
    (problem,) = problems_for(changelog(section("0.2.0", "2026-03-11")))
    assert "2026-03-11 is in the future" in problem


def test_sections_out_of_order_are_refused() -> None:
    text = changelog(section("0.2.0"), section("0.3.0", "2026-01-05"))
    assert any("newest first" in p for p in problems_for(text))


def test_a_duplicated_release_is_refused() -> None:
    text = changelog(section("0.2.0"), section("0.2.0", "2026-01-05"))
    assert any("0.2.0 appears twice" in p for p in problems_for(text))


def test_dates_running_backwards_are_refused() -> None:
    text = changelog(section("0.2.0", "2026-01-01"), section("0.1.0", "2026-02-01"))
    (problem,) = problems_for(text)
    assert "dated 2026-01-01, before 0.1.0" in problem


@pytest.mark.parametrize(("previous", "ok"), [("0.1.0", True), ("0.1.7", True), ("0.0.9", False)])
def test_a_release_is_one_semver_step_above_the_previous(previous: str, ok: bool) -> None:
    problems = problems_for(changelog(section("0.2.0"), section(previous, "2026-01-05")))
    assert (problems == []) is ok
    if not ok:
        assert "skips versions after 0.0.9 (one of 1.0.0, 0.1.0, 0.0.10 is next)" in problems[0]


def test_link_references_when_used_must_cover_the_release() -> None:
    links = "\n[Unreleased]: https://git.example.internal/compare/v0.1.0...HEAD\n"
    text = changelog(section("0.2.0"), section("0.1.0", "2026-01-05"), links=links)
    (problem,) = problems_for(text)
    assert "has none for [0.2.0]" in problem
    links += "[0.2.0]: https://git.example.internal/tags/v0.2.0\n"
    text = changelog(section("0.2.0"), section("0.1.0", "2026-01-05"), links=links)
    assert problems_for(text) == []
    assert "[0.2.0]:" not in release.parse_changelog(text).releases[1].body


def test_the_real_changelog_parses() -> None:
    parsed = release.parse_changelog((ROOT / "CHANGELOG.md").read_text())
    assert parsed.unreleased or parsed.releases


# Generated code ----------------------------------------------------------------------------------


def _header(spec: bytes, config: bytes) -> str:
    return (
        "# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run\n"
        "# `make generate` (openapi/tools/generate.py), which ran:\n"
        "#   openapi-python-client generate ...\n"
        "# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6\n"
        f"# Spec:   openapi/edge-impulse.yaml content sha256 {hashlib.sha256(spec).hexdigest()}\n"
        f"# Config: generator-config.yaml sha256 {hashlib.sha256(config).hexdigest()}\n"
    )


def _write_sources(
    root: Path, spec: bytes = b"openapi: 3.0.0\n", config: bytes = b"x: 1\n"
) -> None:
    (root / "openapi").mkdir(parents=True, exist_ok=True)
    (root / "openapi" / "edge-impulse.yaml").write_bytes(spec)
    (root / "generator-config.yaml").write_bytes(config)
    package = root / "generated" / "edge_impulse_api_client"
    package.mkdir(parents=True, exist_ok=True)
    for name in ("__init__.py", "py.typed", "api/ops.py"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(_header(spec, config) + "\nx = 1\n")


def test_generated_code_from_the_committed_slice_passes(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    assert release.check_generated(tmp_path) == []


def test_the_real_generated_code_names_the_real_slice() -> None:
    assert release.check_generated(ROOT) == []


def test_generated_code_from_another_spec_is_refused(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    (tmp_path / "openapi" / "edge-impulse.yaml").write_text("openapi: 3.0.1\n")
    problems = release.check_generated(tmp_path)
    assert len(problems) == 3  # every file
    assert "generated from another spec" in problems[0]
    assert "run `make generate`" in problems[0]


def test_generated_code_from_another_config_is_refused(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    (tmp_path / "generator-config.yaml").write_text("x: 2\n")
    assert all("another config" in p for p in release.check_generated(tmp_path))


def test_a_generated_file_without_header_is_refused(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    (tmp_path / "generated" / "edge_impulse_api_client" / "extra.py").write_text("x = 1\n")
    problems = release.check_generated(tmp_path)
    assert problems == [
        "generated/edge_impulse_api_client/extra.py: no generated-code header naming the spec",
        "generated/edge_impulse_api_client/extra.py: no generated-code header naming the config",
    ]


def test_missing_generated_code_is_refused(tmp_path: Path) -> None:
    _write_sources(tmp_path)
    for path in sorted((tmp_path / "generated").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (tmp_path / "generated").rmdir()
    assert "empty or missing" in release.check_generated(tmp_path)[0]


# Tags --------------------------------------------------------------------------------------------

A, B = "a" * 40, "b" * 40


def test_a_new_version_needs_its_tag() -> None:
    assert release.check_tag(Version(0, 2, 0), A, {"v0.1.0": B, "vendor-2024": B}) is True


def test_a_tag_already_on_head_is_kept() -> None:
    assert release.check_tag(Version(0, 2, 0), A, {"v0.2.0": A}) is False


def test_a_tag_on_another_commit_is_refused() -> None:
    with pytest.raises(ReleaseError, match="already exists on bbbbbbbbbbbb, not on HEAD aaaa"):
        release.check_tag(Version(0, 2, 0), A, {"v0.2.0": B})


def test_a_version_below_an_existing_tag_is_refused() -> None:
    with pytest.raises(ReleaseError, match=r"tag v0\.10\.0 exists"):
        release.check_tag(Version(0, 9, 0), A, {"v0.10.0": B})


# Artifacts ---------------------------------------------------------------------------------------


def _build_fake_dist(dist: Path, version: str, metadata_version: str | None = None) -> None:
    dist.mkdir(exist_ok=True)
    with zipfile.ZipFile(dist / f"ei_usage-{version}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(
            f"ei_usage-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.4\nName: ei-usage\nVersion: {metadata_version or version}\n",
        )
    with tarfile.open(dist / f"ei_usage-{version}.tar.gz", "w:gz"):
        pass


def test_this_versions_wheel_and_sdist_pass(tmp_path: Path) -> None:
    _build_fake_dist(tmp_path / "dist", "0.2.0")
    assert release.check_dist(tmp_path / "dist", Version(0, 2, 0)) == []


def test_missing_or_foreign_artifacts_are_refused(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _build_fake_dist(dist, "0.1.0")
    (dist / "ei_usage-0.1.0.tar.gz").unlink()
    problems = release.check_dist(dist, Version(0, 2, 0))
    assert any("ei_usage-0.2.0-py3-none-any.whl is missing" in p for p in problems)
    assert any("ei_usage-0.2.0.tar.gz is missing" in p for p in problems)
    assert any("ei_usage-0.1.0-py3-none-any.whl does not belong" in p for p in problems)
    assert release.check_dist(tmp_path / "nowhere", Version(0, 2, 0))


def test_a_wheel_whose_metadata_disagrees_is_refused(tmp_path: Path) -> None:
    _build_fake_dist(tmp_path / "dist", "0.2.0", metadata_version="0.1.0")
    (problem,) = release.check_dist(tmp_path / "dist", Version(0, 2, 0))
    assert "metadata says version 0.1.0" in problem


def test_next_steps_name_the_exact_commands() -> None:
    artifacts = ["dist/ei_usage-0.2.0-py3-none-any.whl", "dist/ei_usage-0.2.0.tar.gz"]
    text = release.next_steps(
        Version(0, 2, 0), A, artifacts, remote="origin", branch="main", upload_url=None
    )
    assert "git push origin main\n" in text
    assert "git push origin v0.2.0\n" in text
    assert "twine upload --repository-url UPLOAD_URL" in text
    assert " ".join(artifacts) in text
    assert "ei-usage==0.2.0" in text
    known = release.next_steps(
        Version(0, 2, 0), A, artifacts, remote="up", branch="main", upload_url="https://idx/"
    )
    assert "--repository-url https://idx/ " in known
    assert "UPLOAD_URL" not in known


# The whole command in a throwaway repository -----------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Only this repository's settings: a machine's git config (signing, hooks) must not leak in.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for kind in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{kind}_NAME", "Release Test")
        monkeypatch.setenv(f"GIT_{kind}_EMAIL", "release-test@ei-usage.invalid")
    monkeypatch.delenv("TWINE_REPOSITORY_URL", raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    _write_sources(root)
    (root / "wrapper" / "ei_usage").mkdir(parents=True)
    (root / "wrapper" / "ei_usage" / "_version.py").write_text('__version__ = "0.2.0"\n')
    (root / "CHANGELOG.md").write_text(
        changelog(section("0.2.0", body="### Added\n- Pinning.\n"), section("0.1.0", "2026-01-05"))
    )
    (root / ".gitignore").write_text("dist/\n")
    git(root, "init", "--quiet", "--initial-branch=main")
    commit(root, "release 0.2.0")
    return root


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def commit(root: Path, message: str) -> None:
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--allow-empty", "--message", message)


def run(root: Path, command: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status: int = release.main([command, "--root", str(root)], today=TODAY)
    out, err = capsys.readouterr()
    return status, out, err


def test_check_passes_on_a_clean_consistent_repository(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(repo, "check", capsys) == (
        0,
        "release check: 0.2.0 is ready to build (tag v0.2.0 to be created)\n",
        "",
    )
    assert git(repo, "tag") == ""  # check changes nothing


def test_check_lists_every_problem_at_once(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "wrapper" / "ei_usage" / "_version.py").write_text('__version__ = "0.3.0"\n')
    (repo / "notes.txt").write_text("untracked")
    status, _, err = run(repo, "check", capsys)
    assert status == 1
    assert "says 0.3.0 but CHANGELOG.md's newest release is 0.2.0" in err
    assert "the git tree is not clean" in err
    assert " M wrapper/ei_usage/_version.py" in err
    assert "?? notes.txt" in err


def test_tag_refuses_without_the_built_artifacts(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(repo, "tag", capsys)
    assert status == 1
    assert "dist/ei_usage-0.2.0-py3-none-any.whl is missing: run `make dist`" in err
    assert git(repo, "tag") == ""


def test_tag_creates_an_annotated_tag_with_the_changelog_section(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _build_fake_dist(repo / "dist", "0.2.0")
    status, out, err = run(repo, "tag", capsys)
    assert (status, err) == (0, "")
    assert git(repo, "cat-file", "-t", "v0.2.0") == "tag"  # annotated, not lightweight
    assert git(repo, "rev-parse", "v0.2.0^{commit}") == git(repo, "rev-parse", "HEAD")
    assert git(repo, "tag", "--list", "--format=%(contents)", "v0.2.0").splitlines() == [
        "ei-usage 0.2.0",
        "",
        "### Added",
        "- Pinning.",
    ]
    assert "git push origin main\n" in out
    assert "git push origin v0.2.0\n" in out
    assert "dist/ei_usage-0.2.0-py3-none-any.whl dist/ei_usage-0.2.0.tar.gz" in out

    # Again on the same commit: nothing to do, same instructions.
    status, again, _ = run(repo, "tag", capsys)
    assert (status, again) == (0, out)


def test_tag_refuses_when_the_version_is_tagged_on_another_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "tag", "--annotate", "--message", "ei-usage 0.2.0", "v0.2.0")
    commit(repo, "a later change, same version")
    _build_fake_dist(repo / "dist", "0.2.0")
    status, _, err = run(repo, "tag", capsys)
    assert status == 1
    assert "tag v0.2.0 already exists on" in err
    assert "never moved" in err


def test_a_new_provenance_comment_alone_does_not_stale_the_generated_code(tmp_path: Path) -> None:
    # generate.py hashes the slice's content, not its comment header; so does the check.
    _write_sources(tmp_path)
    spec = tmp_path / "openapi" / "edge-impulse.yaml"
    spec.write_bytes(b"# Source sha256: 1234\n" + spec.read_bytes())
    assert release.check_generated(tmp_path) == []


def test_a_lightweight_tag_on_head_is_refused_not_taken_for_the_release(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "tag", "v0.2.0")  # lightweight: no message, no tagger
    _build_fake_dist(repo / "dist", "0.2.0")
    for command in ("check", "tag"):
        status, out, err = run(repo, command, capsys)
        assert (status, out) == (1, "")
        assert "tag v0.2.0 is a lightweight tag" in err
        assert "git tag --delete v0.2.0" in err


def test_tag_fails_loudly_when_the_tag_was_not_created(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(release, "_tag", lambda *_args: None)  # git "succeeded" but made nothing
    _build_fake_dist(repo / "dist", "0.2.0")
    status, out, err = run(repo, "tag", capsys)
    assert (status, out) == (1, "")
    assert "tag v0.2.0 was not created" in err
    assert git(repo, "tag") == ""


def test_tag_fails_loudly_when_git_cannot_tag(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No identity for the tagger: git refuses to write an annotated tag.
    for kind in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{kind}_NAME")
        monkeypatch.delenv(f"GIT_{kind}_EMAIL")
    monkeypatch.setenv("EMAIL", "")
    git(repo, "config", "user.useConfigOnly", "true")
    _build_fake_dist(repo / "dist", "0.2.0")
    status, out, err = run(repo, "tag", capsys)
    assert (status, out) == (1, "")
    assert "git tag --annotate" in err
    assert git(repo, "tag") == ""
