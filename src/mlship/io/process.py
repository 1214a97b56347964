"""Run git and DVC as subprocesses with fixed argument lists; failures become one clear error."""

from __future__ import annotations

# git and dvc run with fixed argument lists, never through a shell.
import subprocess  # nosec B404
import sys
from pathlib import Path

from mlship.errors import CommandFailed, MlshipError

# Enough of a failed command's output to show why, short enough for one error message.
TAIL_LINES = 15
TIMEOUT_SECONDS = 3600


def run_command(
    command: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    error: type[MlshipError] = CommandFailed,
) -> str:
    """Run a command (in `cwd`, default here); return its stripped stdout.

    Only the first three words are shown in an error: later ones may hold a URL with a token.

    Raises:
        CommandFailed (or `error`): it could not start, timed out, or exited non-zero (with its
            last lines).
    """
    shown = " ".join(command[:3])
    try:
        result = subprocess.run(  # nosec B603
            command,
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=cwd,
            timeout=TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.SubprocessError) as failure:
        raise error(f"`{shown}` could not run: {failure}") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-TAIL_LINES:])
        where = f" in {cwd}" if cwd is not None else ""
        raise error(f"`{shown}` failed{where} (exit {result.returncode}):\n{tail}")
    return result.stdout.strip()


def git(*args: str, env: dict[str, str] | None = None) -> str:
    """Run git in the current directory; return its stdout."""
    return run_command(["git", *args], env)


def dvc(*args: str) -> str:
    """Run the DVC of this interpreter's environment, whatever PATH says; return its stdout."""
    return run_command([str(Path(sys.executable).parent / "dvc"), *args])
