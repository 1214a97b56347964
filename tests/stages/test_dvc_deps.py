"""Each DVC stage depends on all the code it runs and on the locked environment, so a change to
any module a stage imports (or to a pinned library) reruns it instead of restoring a stale output
from the run-cache. The import closure is computed from the code; dvc.yaml must list it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
LOCK = "requirements.txt"


def module_file(name: str) -> Path | None:
    """The file of module `name` inside src/ (a package's __init__.py), or None."""
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(name: str, path: Path) -> set[str]:
    """Modules `path` (module `name`) imports, at the top or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def closure(entry: str) -> set[Path]:
    """Every src/mlship file that `python -m <entry>` runs: imports and their packages."""
    seen: set[Path] = set()
    pending = [entry]
    while pending:
        name = pending.pop()
        if not name.startswith("mlship"):
            continue
        parts = name.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            path = module_file(prefix)
            if path is None or path in seen:
                continue
            seen.add(path)
            pending.extend(imported(prefix, path))
    return seen


def dvc_stages() -> dict[str, dict[str, object]]:
    loaded = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    stages: dict[str, dict[str, object]] = loaded["stages"]
    return stages


def stage_deps(stage: dict[str, object]) -> set[str]:
    deps = stage.get("deps", [])
    assert isinstance(deps, list)
    return {str(dep) for dep in deps}


@pytest.mark.parametrize("name", sorted(dvc_stages()))
def test_stage_depends_on_every_module_it_imports(name: str) -> None:
    stage = dvc_stages()[name]
    assert stage["cmd"] == f"python -m mlship.stages.{name}"
    needed = {path.relative_to(REPO).as_posix() for path in closure(f"mlship.stages.{name}")}
    missing = sorted(needed - stage_deps(stage))
    assert (
        not missing
    ), f"dvc.yaml stage '{name}' runs these modules but lacks them as deps: {missing}"


@pytest.mark.parametrize("name", sorted(dvc_stages()))
def test_stage_depends_on_the_locked_environment(name: str) -> None:
    assert LOCK in stage_deps(dvc_stages()[name]), f"stage '{name}' does not depend on {LOCK}"


@pytest.mark.parametrize("name", sorted(dvc_stages()))
def test_stage_lists_no_module_it_does_not_run(name: str) -> None:
    needed = {path.relative_to(REPO).as_posix() for path in closure(f"mlship.stages.{name}")}
    listed = {dep for dep in stage_deps(dvc_stages()[name]) if dep.startswith("src/")}
    assert not listed - needed, f"stage '{name}' lists modules it never imports"


def test_closure_follows_imports_inside_functions_and_packages() -> None:
    files = {path.relative_to(SRC).as_posix() for path in closure("mlship.stages.train")}
    assert {"mlship/__init__.py", "mlship/stages/__init__.py", "mlship/config.py"} <= files
    assert "mlship/model/scoring.py" in files or "mlship/model/pipeline.py" in files
    assert "mlship/serving/app.py" not in files
