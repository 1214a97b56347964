"""tools/report_links.py: the guard of `make pr-comment` lets a generated report through and
refuses any target `cml --publish` could resolve to a runner file."""

from __future__ import annotations

import subprocess  # nosec B404
import sys
from pathlib import Path

import pytest
from path_import import import_file

from mlship.report import cli as report_cli

TOOL = Path(__file__).resolve().parents[2] / "tools" / "report_links.py"
report_links = import_file("report_links", TOOL)

BYPASSES = {
    "image": "![env](/proc/self/environ)",
    "image climbing out": "![up](../../.git/config)",
    "link": "[x](/proc/self/environ)",
    "link to a png outside": "[x](/tmp/secret.png)",
    "definition used as an image": "![a][r]\n\n[r]: ../../../../etc/passwd",
    "definition used as a link": "[a][r]\n\n[r]: ../../../../etc/passwd",
    "definition on the next line": "[a][r]\n\n[r]:\n  /etc/passwd",
    "definition in a quote": "> [a]\n>\n> [a]: /etc/passwd",
    "definition in angle brackets": "[a][r]\n\n[r]: </etc/passwd>",
    "alt text over two lines": "![a\nb](/etc/passwd)",
    "brackets in the alt text": "![a [b]](/etc/passwd)",
    "destination on the next line": "![a](\n/etc/passwd)",
    "destination in angle brackets": "![a](</etc/passwd>)",
    "destination with a title": '![a](/etc/passwd "plot")',
    "entity-encoded slash": "![a](&#47;etc&#47;passwd)",
    "escaped characters": "![a](\\/etc\\/passwd)",
    "png name with dots": "![a](plots/..png)",
    "png under another directory": "![a](other/x.png)",
    "url climbing out": "[a](https://example.com/../../../../etc/passwd)",
    "url with parentheses": "[a](https://example.com/(x)/../../../../etc/passwd)",
    "url in the fragment": "[a](https://example.com/#/../../../../etc/passwd)",
    "percent-encoded dots": "[a](https://example.com/%2e%2e/%2e%2e/etc/passwd)",
    "bare url with percent-encoded dots": "https://example.com/%2e%2e/%2e%2e/etc/passwd",
    "file autolink": "<file:///etc/passwd>",
    "url autolink climbing out": "<https://example.com/../../../../etc/passwd>",
    "email autolink": "<root@localhost>",
    "bare url climbing out": "see https://example.com/../../../../etc/passwd",
    "bare www climbing out": "www.example.com/../../../../etc/passwd",
    "bare url with encoded dots": "https://example.com/&#46;&#46;/&#46;&#46;/etc/passwd",
    "bare url with an encoded colon": "http&#58;//example.com/.\\./.\\./etc/passwd",
    "img tag": '<img src="/etc/passwd">',
    "img tag over two lines": '<img\nsrc="/etc/passwd">',
    "a tag": '<a href="/proc/self/environ">env</a>',
    "tag in a comment": '<!-- <img src="/etc/passwd"> -->',
    "empty destination": "[a]()",
    "footnote": "[^1]: /etc/passwd",
}


def _publishable(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    report = tmp_path / "reports" / "pr" / "report.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text, encoding="utf-8")
    return subprocess.run(  # nosec B603
        [sys.executable, str(TOOL), str(report)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("link", BYPASSES.values(), ids=BYPASSES.keys())
def test_report_linking_anything_but_its_pngs_or_a_url_is_refused(link: str) -> None:
    text = f"## ✅ pass\n\n![PR roc](plots/pr_roc.png)\n\n{link}\n"
    with pytest.raises(report_links.Refused):
        report_links.check(text)


@pytest.mark.parametrize(
    "text",
    [
        "![PR roc](plots/pr_roc.png) ![main roc](main_roc.png)",
        "MLflow run: [abc123](https://mlflow.example.com/#/runs/abc123)",
        "MLflow: no run of this commit found on [http://127.0.0.1:5000/](http://127.0.0.1:5000/).",
        "<https://example.com/docs>",
        "| sex | <NA> 1.0% | <NA> 2.0% |",
        "CI [-0.0100, +0.0200]); allowed worse 0.01 <= 2 and a<b",
        "<!-- mlship-report -->\n## ✅ Metric gate: pass",
    ],
)
def test_report_with_only_its_pngs_and_urls_passes(text: str) -> None:
    report_links.check(text)


def test_refusal_is_one_line_naming_the_target(tmp_path: Path) -> None:
    result = _publishable(tmp_path, "## pass\n\n[x](/proc/self/environ)\n")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "links files outside" in result.stderr
    assert "'/proc/self/environ' on line 3" in result.stderr


def test_symbolic_link_in_the_report_directory_is_refused(tmp_path: Path) -> None:
    assert _publishable(tmp_path, "## pass\n").returncode == 0
    (tmp_path / "reports" / "pr" / "plots").mkdir()
    (tmp_path / "reports" / "pr" / "plots" / "roc.png").symlink_to("/etc/hostname")
    result = _publishable(tmp_path, "## pass\n")
    assert result.returncode == 1 and "symbolic link" in result.stderr


def test_generated_reports_pass(monkeypatch: pytest.MonkeyPatch, baselined_project: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000/")
    monkeypatch.setenv("MLSHIP_MLFLOW_RUN_ID", "0123456789abcdef")
    assert report_cli.main([]) == 0
    out = baselined_project / "reports" / "pr"
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "plots/pr_roc.png" in text and "/#/runs/0123456789abcdef" in text
    result = subprocess.run(  # nosec B603
        [sys.executable, str(TOOL), str(out / "report.md")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report_links.check(text.replace("http://127.0.0.1:5000", "https://mlflow.example.com"))
