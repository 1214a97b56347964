"""A stand-in for the GitHub REST API on 127.0.0.1 that records every call it receives.

It keeps pull requests and issues in memory, the way GitHub would, for the few endpoints the
retrain loop, the monitor and pr-report call: list/get/create/update pulls, list/create/update
issues, and repository_dispatch. Tests point GITHUB_API_URL at it and assert on `calls`, `pulls`,
`issues` and `dispatches`.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROUTE = re.compile(
    r"^/repos/(?P<repo>[^/]+/[^/]+)/(?P<kind>pulls|issues|dispatches)(?:/(?P<n>\d+))?$"
)


class GitHubStandIn:
    """Start with `start()`, stop with `stop()`; `url` is the API base to use."""

    def __init__(self, token: str = "ghs_stand_in_token") -> None:
        self.token = token
        self.calls: list[dict[str, Any]] = []
        self.pulls: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.dispatches: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The API base URL (GITHUB_API_URL)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GitHubStandIn:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _number(self) -> int:
        return 1 + len(self.pulls) + len(self.issues)

    def _dispatch(self, body: Any) -> tuple[int, Any]:
        """POST /repos/{owner}/{repo}/dispatches as GitHub's REST API documents it: event_type
        required, 100 characters or fewer; client_payload an object of at most 10 top-level
        properties; 204 No Content, or 422 Validation Failed."""
        event = body.get("event_type") if isinstance(body, dict) else None
        payload = body.get("client_payload", {}) if isinstance(body, dict) else None
        if not isinstance(event, str) or not 0 < len(event) <= 100:
            return 422, {"message": "Validation Failed", "errors": ["event_type"]}
        if not isinstance(payload, dict) or len(payload) > 10:
            return 422, {"message": "Validation Failed", "errors": ["client_payload"]}
        self.dispatches.append(body)
        return 204, None

    def handle(  # pylint: disable=too-many-return-statements
        self, method: str, path: str, query: dict[str, str], body: Any, auth: str
    ) -> tuple[int, Any]:
        """Record one call and answer it as GitHub would."""
        with self._lock:
            self.calls.append(
                {"method": method, "path": path, "query": query, "body": body, "auth": auth}
            )
            if auth != f"Bearer {self.token}":
                return 401, {"message": "Bad credentials"}
            match = ROUTE.match(path)
            if not match:
                return 404, {"message": "Not Found"}
            kind, number = match["kind"], match["n"]
            if kind == "dispatches" and method == "POST":
                return self._dispatch(body)
            items = self.pulls if kind == "pulls" else self.issues
            if method == "GET" and number is None:
                found = [i for i in items if i["state"] == query.get("state", "open")]
                if kind == "pulls" and "head" in query:
                    owner = match["repo"].split("/")[0]
                    found = [i for i in found if f"{owner}:{i['head']}" == query["head"]]
                if kind == "issues" and "labels" in query:
                    found = [i for i in found if query["labels"] in i["labels"]]
                return 200, found
            if method == "POST" and number is None:
                item = {"number": self._number(), "state": "open", "updates": 0, **body}
                item["html_url"] = (
                    f"https://github.com/{match['repo']}/{kind[:-1]}/{item['number']}"
                )
                items.append(item)
                return 201, item
            if method in {"GET", "PATCH"} and number is not None:
                for item in items:
                    if item["number"] != int(number):
                        continue
                    if method == "PATCH":
                        item.update(body)
                        item["updates"] += 1
                    return 200, item
            return 404, {"message": "Not Found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            """Route every method to GitHubStandIn.handle."""

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization", "")
                status, answer = standin.handle(self.command, parts.path, query, body, auth)
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Stay quiet: the calls are recorded, not logged."""

        return Handler
