"""`mlship data`: exactly the bytes a .dvc file pins, or one error saying which, and what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlship.config import load_params
from mlship.data.pinned import dir_md5, file_md5, keep_pins, materialise, pin_files, tree_entries
from mlship.errors import DataUnavailable
from mlship.stages import data

REPO = Path(__file__).resolve().parents[2]
PINNED_MD5 = yaml.safe_load((REPO / "data.dvc").read_text(encoding="utf-8"))["outs"][0]["md5"]


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repo's params.yaml and data.dvc in a directory with no data, as the cwd."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copy(REPO / "data.dvc", tmp_path / "data.dvc")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _set_data_path(root: Path, value: str) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["data"]["path"] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def test_directory_hash_is_dvcs_own_for_the_bundled_example(project: Path) -> None:
    data.write_example(load_params(project / "params.yaml"))
    assert dir_md5(tree_entries(project / "data")) == PINNED_MD5


def test_missing_example_is_regenerated_because_its_bytes_hash_to_the_pin(project: Path) -> None:
    message = data.run(load_params(project / "params.yaml"))
    assert "regenerated the bundled example" in message
    assert dir_md5(tree_entries(project / "data")) == PINNED_MD5


def test_regenerating_the_example_says_one_line_naming_the_data_not_a_temporary_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert data.main([]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "data/churn.csv: regenerated the bundled example; its bytes match data.dvc"
    ]


def test_data_matching_the_pin_is_used_as_it_is(project: Path) -> None:
    params = load_params(project / "params.yaml")
    data.write_example(params)
    before = (project / "data/churn.csv").stat().st_mtime_ns
    assert "matches data.dvc" in data.run(params)
    assert (project / "data/churn.csv").stat().st_mtime_ns == before


def test_edited_data_that_differs_from_the_pin_is_an_error_and_left_untouched(
    project: Path,
) -> None:
    params = load_params(project / "params.yaml")
    (project / "data").mkdir()
    (project / "data/churn.csv").write_text("customer_id,churned\nC1,1\n", encoding="utf-8")
    with pytest.raises(DataUnavailable) as raised:
        data.run(params)
    message = str(raised.value)
    assert "differs from what data.dvc pins" in message and PINNED_MD5 in message
    assert "dvc add data" in message and "dvc checkout data.dvc" in message
    assert (project / "data/churn.csv").read_text(encoding="utf-8") == "customer_id,churned\nC1,1\n"


def test_pin_that_is_not_the_example_and_cannot_be_fetched_is_one_clear_error(
    project: Path,
) -> None:
    dvc_file = project / "data.dvc"
    dvc_file.write_text(
        dvc_file.read_text(encoding="utf-8").replace(PINNED_MD5, "0" * 32 + ".dir"),
        encoding="utf-8",
    )
    with pytest.raises(DataUnavailable) as raised:
        data.run(load_params(project / "params.yaml"))
    message = str(raised.value)
    for words in ("data/churn.csv", "0" * 32 + ".dir", "no DVC remote", "dvc push", "fork"):
        assert words in message, message
    assert not (project / "data").exists(), "nothing may stand in for the pinned data"


def test_mistyped_data_path_is_an_error_not_a_fresh_example(project: Path) -> None:
    params = load_params(project / "params.yaml")
    data.write_example(params)
    _set_data_path(project, "data/churnn.csv")
    assert data.main([]) == DataUnavailable.exit_code
    assert not (project / "data/churnn.csv").exists()
    assert sorted(p.name for p in (project / "data").iterdir()) == ["churn.csv"]


def test_untracked_missing_data_path_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_data_path(project, "incoming/july.csv")
    assert data.main([]) == DataUnavailable.exit_code
    err = capsys.readouterr().err
    assert "incoming/july.csv: not found, and no .dvc file tracks it" in err
    assert "data.path" in err


def test_data_committed_to_git_is_used_as_committed(project: Path) -> None:
    (project / "incoming").mkdir()
    (project / "incoming/july.csv").write_text("a\n1\n", encoding="utf-8")
    message = materialise(Path("incoming/july.csv"), project, lambda _: None)
    assert "not tracked by DVC" in message


def test_extra_files_beside_the_pinned_ones_do_not_hide_the_pinned_bytes(project: Path) -> None:
    params = load_params(project / "params.yaml")
    data.write_example(params)
    (project / "data/batches").mkdir()
    (project / "data/batches/2026-12.csv").write_text("x\n1\n", encoding="utf-8")
    assert "matches data.dvc" in data.run(params)


def test_keep_pins_restores_a_re_recorded_dvc_file_and_refuses(project: Path) -> None:
    pins = pin_files(project)
    original = (project / "data.dvc").read_bytes()
    (project / "data.dvc").write_text("outs: []\n", encoding="utf-8")
    with pytest.raises(DataUnavailable, match="re-recorded data.dvc"):
        keep_pins(pins)
    assert (project / "data.dvc").read_bytes() == original


def _dvc(root: Path, *args: str) -> str:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull},
    )
    return result.stdout


def test_pinned_data_is_pulled_from_the_dvc_remote_and_checked(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
    _dvc(project, "init", "--quiet")
    (project / "data").mkdir()
    (project / "data/churn.csv").write_text("customer_id,churned\nC1,1\nC2,0\n", encoding="utf-8")
    _dvc(project, "add", "--quiet", "data")
    remote = tmp_path_factory.mktemp("remote")
    _dvc(project, "remote", "add", "--default", "storage", str(remote))
    _dvc(project, "push", "--quiet", "data.dvc")
    pinned = file_md5(project / "data/churn.csv")
    shutil.rmtree(project / "data")
    shutil.rmtree(project / ".dvc/cache")
    message = data.run(load_params(project / "params.yaml"))
    assert "restored from DVC remote 'storage'" in message
    assert file_md5(project / "data/churn.csv") == pinned


def test_regenerated_example_is_cached_so_dvc_sees_data_dvc_unchanged(project: Path) -> None:
    # A fresh clone: no data, an empty DVC cache. Without caching the bytes, `dvc repro` would
    # save them again and print "To track the changes with git, run: git add data.dvc".
    subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
    _dvc(project, "init", "--quiet")
    pinned = (project / "data.dvc").read_bytes()
    assert "regenerated the bundled example" in data.run(load_params(project / "params.yaml"))
    assert "data.dvc" not in _dvc(project, "status", "data.dvc")
    assert (project / "data.dvc").read_bytes() == pinned
