"""Audit pinned dependencies for known vulnerabilities; say plainly when nothing was checked.

safety needs an API key (SAFETY_API_KEY); without one, pip-audit asks the PyPI advisory
service. When no service answers, the audit did not happen: that is printed loudly and, with
AUDIT_REQUIRED=1 (set in the GitHub workflow, where the services are reachable), it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404
import sys
from pathlib import Path

REQUIREMENTS = Path("requirements.txt")


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        sys.exit(f"security: {name} is not installed (run `make install`)")
    return found


def run_safety(key: str) -> int:
    """Scan with safety using the given API key."""
    command = [_tool("safety"), "--key", key, "scan", "--target", ".", "--output", "screen"]
    return subprocess.run(command, check=False).returncode  # nosec B603


def run_pip_audit(required: bool) -> int:
    """Scan with pip-audit; vulnerabilities fail, an unreachable service is reported."""
    command = [
        _tool("pip-audit"),
        "-r",
        str(REQUIREMENTS),
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # nosec B603
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stderr.strip()[-2000:], file=sys.stderr)
        return _unchecked("pip-audit produced no report", required)
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"security: {dep['name']} {dep['version']} has known vulnerabilities: {ids}")
    if vulnerable:
        return 1
    if skipped:
        return _unchecked(
            f"{len(skipped)} of {len(dependencies)} pinned packages could not be audited "
            f"(first: {skipped[0]['name']}: {skipped[0]['skip_reason']})",
            required,
        )
    print(f"security: pip-audit checked {len(dependencies)} packages, no known vulnerabilities")
    return 0


def _unchecked(reason: str, required: bool) -> int:
    print(
        "security: WARNING: dependency audit NOT done — no vulnerability service reachable: "
        f"{reason}. Set SAFETY_API_KEY or run where the advisory service is reachable.",
        file=sys.stderr,
    )
    return 1 if required else 0


def main() -> int:
    """Run safety when a key is configured, else pip-audit."""
    key = os.environ.get("SAFETY_API_KEY", "").strip()
    required = os.environ.get("AUDIT_REQUIRED", "") == "1"
    return run_safety(key) if key else run_pip_audit(required)


if __name__ == "__main__":
    sys.exit(main())
