"""`make pr-comment` and `make pr-number`: the untrusted report artifact never gets further than
one comment on the PR it names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CML_STANDIN = Path(__file__).resolve().parent / "cml_standin.py"


def make(target: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a Makefile target with the recording `cml` stand-in first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shutil.copy(CML_STANDIN, bin_dir / "cml")
    (bin_dir / "cml").chmod(0o755)
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), target],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "MLSHIP_CML_LOG": str(tmp_path / "cml.jsonl"),
            "PR_REPORT_DIR": str(tmp_path / "report"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )  # nosec B603 B607


def recorded(tmp_path: Path) -> list[dict[str, object]]:
    """The comment calls the stand-in received."""
    log = tmp_path / "cml.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [json.loads(line) for line in lines]


@pytest.fixture()
def report(tmp_path: Path) -> Path:
    """A downloaded report artifact for PR 12 with one plot."""
    root = tmp_path / "report"
    (root / "plots").mkdir(parents=True)
    (root / "plots" / "pr_roc.png").write_bytes(b"\x89PNG")
    (root / "pr-number").write_text("12\n", encoding="utf-8")
    (root / "report.md").write_text("## ✅ pass\n\n![PR roc](plots/pr_roc.png)\n", encoding="utf-8")
    return root


def test_pr_comment_updates_the_mlship_comment_of_the_named_pr(
    tmp_path: Path, report: Path
) -> None:
    result = make("pr-comment", tmp_path)
    assert result.returncode == 0, result.stderr
    (call,) = recorded(tmp_path)
    assert call["argv"] == [
        "cml",
        "comment",
        "update",
        "--watermark-title=mlship",
        "--target=pr/12",
        "--publish",
        "report.md",
    ]
    assert call["images"] == ["plots/pr_roc.png"] and call["missing_images"] == []
    assert call["markdown"] == (report / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "link",
    ["![env](/proc/self/environ)", "![up](../../.git/config)", '<img src="/etc/passwd">'],
)
def test_pr_comment_refuses_a_report_linking_files_outside_it(
    tmp_path: Path, report: Path, link: str
) -> None:
    with (report / "report.md").open("a", encoding="utf-8") as handle:
        handle.write(f"\n{link}\n")
    result = make("pr-comment", tmp_path)
    assert result.returncode != 0
    assert "links files outside" in result.stderr
    assert not recorded(tmp_path)


def test_pr_comment_refuses_a_report_with_symbolic_links(tmp_path: Path, report: Path) -> None:
    (report / "plots" / "secret.png").symlink_to("/etc/hostname")
    result = make("pr-comment", tmp_path)
    assert result.returncode != 0 and not recorded(tmp_path)


@pytest.mark.parametrize("number", ["12; rm -rf /", "$(id)", "", "12 13"])
def test_pr_comment_refuses_a_pr_number_that_is_not_digits(
    tmp_path: Path, report: Path, number: str
) -> None:
    (report / "pr-number").write_text(number, encoding="utf-8")
    result = make("pr-comment", tmp_path)
    assert result.returncode != 0
    assert "no valid PR number" in result.stderr
    assert not recorded(tmp_path)


def test_pr_number_writes_the_number_beside_the_report(tmp_path: Path) -> None:
    result = make("pr-number", tmp_path, PR_NUMBER="42")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report" / "pr-number").read_text(encoding="utf-8") == "42\n"


def test_pr_number_refuses_anything_but_digits(tmp_path: Path) -> None:
    result = make("pr-number", tmp_path, PR_NUMBER="1 && curl evil")
    assert result.returncode != 0
    assert "must be digits" in result.stderr
    assert not (tmp_path / "report" / "pr-number").exists()
