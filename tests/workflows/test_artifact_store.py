"""The artifact stand-ins keep upload-artifact's contract: no silent overwrite, no hidden files."""

from __future__ import annotations

import os
import subprocess  # nosec B404
import sys
from pathlib import Path

STORE_SCRIPT = Path(__file__).resolve().parent / "artifact_store.py"


def upload(work: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the store's upload from `work`, as the upload-artifact stand-in does."""
    return subprocess.run(  # nosec B603
        [sys.executable, str(STORE_SCRIPT)],
        cwd=work,
        env={
            **os.environ,
            "MLSHIP_ACT_ARTIFACTS": str(work / "store"),
            "ARTIFACT_OP": "upload",
            "ARTIFACT_NAME": "report",
            "ARTIFACT_PATH": "reports",
            "GITHUB_OUTPUT": str(work / "output"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_uploading_an_existing_name_fails_unless_overwrite(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "a.md").write_text("first", encoding="utf-8")
    assert upload(tmp_path).returncode == 0
    (tmp_path / "reports" / "a.md").write_text("second", encoding="utf-8")

    refused = upload(tmp_path, ARTIFACT_OVERWRITE="false")
    assert refused.returncode == 1
    assert "(409) Conflict: an artifact with this name already exists" in refused.stdout
    assert (tmp_path / "store" / "report" / "a.md").read_text(encoding="utf-8") == "first"

    assert upload(tmp_path, ARTIFACT_OVERWRITE="true").returncode == 0
    assert (tmp_path / "store" / "report" / "a.md").read_text(encoding="utf-8") == "second"
    outputs = (tmp_path / "output").read_text(encoding="utf-8")
    assert "artifact-id=" in outputs and "artifact-digest=" in outputs


def test_hidden_files_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    (tmp_path / "reports" / ".cache").mkdir(parents=True)
    (tmp_path / "reports" / ".env").write_text("TOKEN=x", encoding="utf-8")
    (tmp_path / "reports" / ".cache" / "x").write_text("x", encoding="utf-8")
    (tmp_path / "reports" / "a.md").write_text("a", encoding="utf-8")
    assert upload(tmp_path).returncode == 0
    stored = tmp_path / "store" / "report"
    assert sorted(p.name for p in stored.iterdir()) == ["a.md"]

    assert upload(tmp_path, ARTIFACT_OVERWRITE="true", ARTIFACT_HIDDEN="true").returncode == 0
    assert sorted(p.name for p in stored.iterdir()) == [".cache", ".env", "a.md"]
