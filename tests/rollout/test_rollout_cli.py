"""`mlship rollout` refuses bad settings with one clear line before touching anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlship.rollout.cli import main


def test_missing_service_url_is_one_line_and_exit_8(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLSHIP_DEPLOY_URL", raising=False)
    monkeypatch.setenv("MLSHIP_ADMIN_TOKEN", "token")
    assert main([]) == 8
    assert capsys.readouterr().err.strip().splitlines() == [
        "mlship rollout: error: no service URL: pass --url or set MLSHIP_DEPLOY_URL"
    ]


def test_missing_admin_token_is_refused(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLSHIP_ADMIN_TOKEN", raising=False)
    assert main(["--url", "http://127.0.0.1:9"]) == 8
    assert "no admin token: set MLSHIP_ADMIN_TOKEN" in capsys.readouterr().err


def test_steps_that_do_not_reach_100_are_refused(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLSHIP_ADMIN_TOKEN", "token")
    assert main(["--url", "http://127.0.0.1:9", "--steps", "5,25"]) == 8
    assert "steps must lie in 1..100 and end at 100" in capsys.readouterr().err


def test_a_url_without_scheme_is_refused(
    in_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLSHIP_ADMIN_TOKEN", "token")
    assert main(["--url", "127.0.0.1:8000"]) == 8
    assert "must start with http:// or https://" in capsys.readouterr().err
