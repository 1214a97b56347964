"""GitHub as the retrain loop and the monitor use it: a few REST calls and the job summary."""

from __future__ import annotations

from typing import Any

import httpx

from mlship.errors import GitHubError
from mlship.settings import GITHUB_API, GitHubSettings, read_settings

API_VERSION = "2022-11-28"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# GitHub rejects issue and pull-request bodies over 65,536 characters.
MAX_BODY = 65_000


def _trim(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    return body[: MAX_BODY - 80] + "\n\n_(truncated: the full report is in the run's artifacts)_\n"


class GitHub:
    """A repository's REST API: base URL from GITHUB_API_URL, token from GITHUB_TOKEN."""

    def __init__(self, repository: str, token: str, api_url: str = GITHUB_API) -> None:
        if "/" not in repository:
            raise GitHubError(f"repository must be owner/name, got {repository!r}")
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        self._client = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=TIMEOUT,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "mlship",
            },
        )

    @classmethod
    def from_env(cls) -> GitHub:
        """Build from GITHUB_REPOSITORY, GITHUB_TOKEN and GITHUB_API_URL (the Actions defaults).

        Raises:
            GitHubError: GITHUB_REPOSITORY or GITHUB_TOKEN is not set.
        """
        github = read_settings(GitHubSettings)
        if not github.repository or github.token is None:
            raise GitHubError("GITHUB_REPOSITORY and GITHUB_TOKEN must be set to call GitHub")
        return cls(github.repository, github.token.get_secret_value(), github.api_url)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the API; return the decoded JSON (None for an empty body).

        Raises:
            GitHubError: the call could not be made or GitHub answered with an error.
        """
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise GitHubError(f"GitHub {method} {path} failed: {error}") from None
        if response.is_error:
            detail = response.text[:300].replace("\n", " ")
            raise GitHubError(f"GitHub {method} {path}: HTTP {response.status_code}: {detail}")
        return response.json() if response.content else None

    def upsert_pull(self, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        """Open a pull request from branch `head`, or update the open one; add `action`."""
        repo = f"/repos/{self.repository}"
        found = self.request(
            "GET",
            f"{repo}/pulls",
            params={"state": "open", "head": f"{self.owner}:{head}", "base": base},
        )
        if found:
            number = found[0]["number"]
            pull = self.request(
                "PATCH", f"{repo}/pulls/{number}", json={"title": title, "body": _trim(body)}
            )
            action = "updated"
        else:
            pull = self.request(
                "POST",
                f"{repo}/pulls",
                json={"title": title, "head": head, "base": base, "body": _trim(body)},
            )
            action = "opened"
        return {"number": pull["number"], "url": pull.get("html_url", ""), "action": action}

    def upsert_issue(self, title: str, body: str, label: str) -> dict[str, Any]:
        """Open an issue titled `title` with `label`, or update the open one of that title."""
        repo = f"/repos/{self.repository}"
        listed = self.request(
            "GET", f"{repo}/issues", params={"state": "open", "labels": label, "per_page": 100}
        )
        same = [i for i in listed or [] if i.get("title") == title and "pull_request" not in i]
        if same:
            number = same[0]["number"]
            issue = self.request("PATCH", f"{repo}/issues/{number}", json={"body": _trim(body)})
            action = "updated"
        else:
            issue = self.request(
                "POST",
                f"{repo}/issues",
                json={"title": title, "body": _trim(body), "labels": [label]},
            )
            action = "opened"
        return {"number": issue["number"], "url": issue.get("html_url", ""), "action": action}

    def dispatch(self, event_type: str, payload: dict[str, Any]) -> None:
        """Send a repository_dispatch event (starts workflows `on: repository_dispatch`)."""
        self.request(
            "POST",
            f"/repos/{self.repository}/dispatches",
            json={"event_type": event_type, "client_payload": payload},
        )


def append_step_summary(text: str) -> None:
    """Append markdown to the job's summary page when running in GitHub Actions."""
    target = read_settings(GitHubSettings).step_summary
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
