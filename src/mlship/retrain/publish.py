"""Publish a retrain run: push `retrain/<month>` and open or update its pull request, or an issue.

It runs as its own make target (`retrain-pr`), so only this half holds a token that can write to
GitHub; it reads what the run left in decision.json and the reports.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from mlship.config import Params
from mlship.errors import DataError
from mlship.io.github import GitHub
from mlship.io.process import git
from mlship.retrain.decision import Decision
from mlship.retrain.report import pr_body, rejected_body
from mlship.retrain.workspace import Paths, dvc_files
from mlship.settings import GitHubSettings, RetrainSettings, read_settings

ISSUE_LABEL = "mlship-retrain"
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


def _push_env(url: str, token: str) -> dict[str, str]:
    env = dict(os.environ)
    if token and url.startswith("https://"):
        # An Authorization header from the environment: the token never lands in argv, in
        # .git/config or in the URL, the way actions/checkout passes it.
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(
            {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{url}.extraheader",
                "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
            }
        )
    return env


def push_branch(params: Params, decision: Decision) -> str:
    """Commit data.dvc and dvc.lock on retrain/<month> and force-push it; return the branch."""
    branch = f"{params.retrain.branch_prefix}{decision.month}"
    github = read_settings(GitHubSettings)
    server = github.server_url.rstrip("/")
    url = read_settings(RetrainSettings).push_url or f"{server}/{github.repository}.git"
    identity = ["-c", f"user.name={BOT[0]}", "-c", f"user.email={BOT[1]}"]
    git("checkout", "--quiet", "-B", branch)
    tracked = [str(p) for p in dvc_files()] + ["dvc.lock"]
    git("add", "--", *[p for p in tracked if Path(p).exists()])
    message = f"Retrain on {decision.month} data\n\n{decision.headline()}"
    git(*identity, "commit", "--quiet", "--allow-empty", "-m", message)
    # One branch per month: a second run of the month replaces it, and so updates its PR.
    token = github.token.get_secret_value() if github.token else ""
    git("push", "--quiet", "--force", url, f"HEAD:refs/heads/{branch}", env=_push_env(url, token))
    return branch


def publish(params: Params) -> dict[str, Any]:
    """Open or update the PR of a retrain, or the issue of a rejected batch or failed gate."""
    paths = Paths(params)
    if not paths.decision.is_file():
        raise DataError(f"{paths.decision} is missing: run `mlship retrain` first")
    decision = Decision.from_dict(json.loads(paths.decision.read_text(encoding="utf-8")))
    if decision.outcome not in {"rejected", "gate-failed", "retrained"}:
        print(f"retrain: nothing to publish ({decision.headline()})")
        return {"action": "none"}
    body = pr_body(decision, params.gate.out_dir / "gate.md", paths.drift / "drift.md")
    github = GitHub.from_env()
    try:
        if decision.outcome == "rejected":
            title = f"Data batch {decision.month} failed validation"
            done = github.upsert_issue(
                title, rejected_body(decision, paths.validation), ISSUE_LABEL
            )
        elif decision.outcome == "gate-failed":
            title = f"Retrain on {decision.month} data: the challenger failed the gate"
            done = github.upsert_issue(title, body, ISSUE_LABEL)
        else:
            branch = push_branch(params, decision)
            title = f"Retrain on {decision.month} data"
            done = github.upsert_pull(branch, params.retrain.base_branch, title, body)
    finally:
        github.close()
    kind = "pull request" if decision.outcome == "retrained" else "issue"
    print(f"retrain: {done['action']} {kind} #{done['number']} {done['url']}".rstrip())
    return done
