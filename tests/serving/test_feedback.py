"""Request ids and POST /feedback on a real `mlship serve`: answers' ids labelled and joined."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_helpers import live_service, model_columns, records

from mlship.config import Params
from mlship.monitoring.labels import Labelled, join_labels
from mlship.serving.app import create_app
from mlship.serving.settings import ServeSettings

TOKEN = "live-feedback-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Live:
    """The running service, its record directory and held-out rows with their true labels."""

    def __init__(self, url: str, records_dir: Path, rows: list[dict[str, Any]], truth: list[Any]):
        self.url, self.records_dir, self.rows, self.truth = url, records_dir, rows, truth

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to the service."""
        return httpx.post(f"{self.url}{path}", timeout=30, **kwargs)

    def feedback(self, labels: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
        """POST /feedback with the token."""
        return self.post("/feedback", json={"labels": labels}, headers=AUTH, **kwargs)


@pytest.fixture(scope="module", name="live")
def _live(
    trained_project: tuple[Path, Params], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    root, params = trained_project
    model_dir = root / params.paths.model_dir
    held_out = pd.read_parquet(root / params.paths.split_dir / "test.parquet").head(60)
    cwd = tmp_path_factory.mktemp("feedback")
    records_dir = cwd / "records"
    env = {
        "MLSHIP_CHAMPION": str(model_dir),
        "MLSHIP_RECORD_ENABLED": "true",
        "MLSHIP_RECORD_DIR": str(records_dir),
        "MLSHIP_FEEDBACK_TOKEN": TOKEN,
    }
    truth = [bool(value) for value in held_out[params.data.target]]
    with live_service(env, cwd) as url:
        yield Live(url, records_dir, records(held_out, model_columns(model_dir)), truth)


def _joined(live: Live, ids: set[str], max_delay_s: float | None = None) -> Labelled:
    """The join once the writer threads have written every id in `ids` (they run behind)."""
    deadline = time.monotonic() + 60
    while True:
        labelled = join_labels(live.records_dir, max_delay_s=max_delay_s)
        seen = set(labelled.rows["request_id"])
        if ids <= seen or time.monotonic() > deadline:
            return labelled
        time.sleep(0.2)


def test_answers_carry_request_ids_and_posted_labels_join_their_rows(live: Live) -> None:
    single = live.post("/predict", json=live.rows[0])
    keyed = live.post("/predict", json=live.rows[1], headers={"X-Request-Key": "order-17:a.b_c"})
    batch = live.post(
        "/predict", json={"records": live.rows[2:7]}, headers={"X-Request-Key": "batch-1"}
    )
    assert single.status_code == keyed.status_code == batch.status_code == 200
    generated = single.json()["request_id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert single.headers["X-Request-Id"] == generated
    assert keyed.json()["request_id"] == keyed.headers["X-Request-Id"] == "order-17:a.b_c"
    assert batch.json()["request_id"] == batch.headers["X-Request-Id"] == "batch-1"
    items = batch.json()["predictions"]
    assert [item["request_id"] for item in items] == [f"batch-1/{i}" for i in range(5)]

    answers = [single.json(), keyed.json(), *items]
    labels = [
        {"id": answer["request_id"], "label": truth}
        for answer, truth in zip(answers, live.truth[:7])
    ]
    counts = live.feedback(labels)
    assert counts.status_code == 200
    assert counts.json() == {"accepted": 7, "duplicates": 0, "unknown": 0}

    ids = {answer["request_id"] for answer in answers}
    rows = _joined(live, ids).rows.set_index("request_id").loc[[a["request_id"] for a in answers]]
    assert rows["label"].tolist() == live.truth[:7]
    assert rows["predicted"].tolist() == [answer["prediction"] for answer in answers]
    assert rows["prediction"].round(9).tolist() == [
        round(answer["probability"], 9) for answer in answers
    ]
    assert (rows["delay_s"] >= 0).all() and (rows["role"] == "champion").all()
    feature = next(iter(live.rows[0]))
    assert rows[feature].tolist() == [row[feature] for row in live.rows[:7]]


def test_repeated_and_unknown_ids_are_counted_and_the_known_ones_still_stored(live: Live) -> None:
    answer = live.post("/predict", json=live.rows[10], headers={"X-Request-Key": "mix-1"})
    other = live.post("/predict", json=live.rows[11], headers={"X-Request-Key": "mix-2"})
    assert answer.status_code == other.status_code == 200
    batch = [
        {"id": "mix-1", "label": True},
        {"id": "never-recorded", "label": False},
        {"id": "mix-1", "label": False},  # repeated in the batch: the first one counts
        {"id": "mix-2", "label": False},
    ]
    assert live.feedback(batch).json() == {"accepted": 2, "duplicates": 1, "unknown": 1}
    again = live.feedback([{"id": "mix-2", "label": True}])
    assert again.json() == {"accepted": 0, "duplicates": 1, "unknown": 0}

    labelled = _joined(live, {"mix-1", "mix-2"})
    labels = labelled.rows.set_index("request_id")["label"].to_dict()
    # Each id keeps its first label, not the repeat.
    assert {key: labels[key] for key in ("mix-1", "mix-2")} == {"mix-1": True, "mix-2": False}
    assert "never-recorded" not in labels and labelled.unknown >= 1


def test_a_label_that_is_not_a_json_scalar_is_a_422_naming_the_item(live: Live) -> None:
    assert live.post("/predict", json=live.rows[12], headers={"X-Request-Key": "typed"}).is_success
    for bad, kind in (([1, 2], "an array"), ({"y": 1}, "an object"), (None, "null")):
        answer = live.feedback([{"id": "typed", "label": 1}, {"id": "typed", "label": bad}])
        assert answer.status_code == 422
        (error,) = answer.json()["detail"]
        assert error["loc"] == ["body", "labels", 1, "label"]
        assert kind in error["msg"]
    stamp = live.feedback([{"id": "typed", "label": 1, "timestamp": "yesterday"}])
    assert stamp.status_code == 422
    assert stamp.json()["detail"][0]["loc"] == ["body", "labels", 0, "timestamp"]
    malformed = live.feedback([{"id": "no spaces allowed", "label": 1}])
    assert malformed.json()["detail"][0]["loc"] == ["body", "labels", 0, "id"]
    too_many = live.feedback([{"id": f"n{i}", "label": 1} for i in range(1_001)])
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "labels"]
    # Nothing of a refused batch was stored: the id is still unlabelled.
    assert live.feedback([{"id": "typed", "label": 1}]).json()["accepted"] == 1


def test_feedback_needs_its_own_token(live: Live) -> None:
    labels = {"labels": [{"id": "x", "label": 1}]}
    missing = live.post("/feedback", json=labels)
    assert missing.status_code == 401 and "Bearer" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = live.post("/feedback", json=labels, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json() == {"detail": "invalid feedback token"}


@pytest.mark.parametrize("key", ["has space", "a/b", "k" * 129, 'quote"d'])
def test_an_invalid_request_key_is_a_422_naming_the_header(live: Live, key: str) -> None:
    answer = live.post("/predict", json=live.rows[0], headers={"X-Request-Key": key})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["header", "x-request-key"]


def test_labels_later_than_the_limit_are_counted_expired_by_the_join(live: Live) -> None:
    late = {"X-Request-Key": "late-1"}
    assert live.post("/predict", json=live.rows[20], headers=late).is_success
    assert live.post("/predict", json=live.rows[21], headers={"X-Request-Key": "late-2"}).is_success
    in_two_days = datetime.fromtimestamp(time.time() + 2 * 86_400, UTC).isoformat()
    labels = [
        {"id": "late-1", "label": True, "timestamp": in_two_days},
        {"id": "late-2", "label": False, "timestamp": time.time() + 60},
    ]
    assert live.feedback(labels).json()["accepted"] == 2
    everything = _joined(live, {"late-1", "late-2"}).rows.set_index("request_id")
    assert everything.loc["late-1", "delay_s"] > 86_400 > everything.loc["late-2", "delay_s"]
    within_a_day = join_labels(live.records_dir, max_delay_s=86_400)
    assert within_a_day.expired >= 1
    assert "late-1" not in set(within_a_day.rows["request_id"])
    assert "late-2" in set(within_a_day.rows["request_id"])


def test_the_openapi_schema_names_the_request_id_and_the_feedback_token(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "request_id" in schemas["SinglePrediction"]["required"]
    assert "request_id" in schemas["BatchPrediction"]["properties"]
    feedback = spec["paths"]["/feedback"]["post"]
    assert set(feedback["responses"]) >= {"200", "401", "403", "404", "422", "503"}
    assert feedback["security"] and "FeedbackCounts" in schemas
    assert "ISO-8601" in schemas["LabelIn"]["properties"]["timestamp"]["description"]


def test_feedback_off_answers_404_naming_the_setting_it_lacks(
    trained_project: tuple[Path, Params], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, params = trained_project
    champion = str(root / params.paths.model_dir)
    labels = {"labels": [{"id": "x", "label": 1}]}
    with TestClient(create_app(ServeSettings(champion=champion))) as client:
        off = client.post("/feedback", json=labels, headers=AUTH)
        # Without a token: the 401 first (what an OpenAPI client expects), off or not.
        assert client.post("/feedback", json=labels).status_code == 401
    assert off.status_code == 404 and "MLSHIP_FEEDBACK_TOKEN" in off.json()["detail"]
    monkeypatch.setenv("MLSHIP_RECORD_ENABLED", "false")
    monkeypatch.setenv("MLSHIP_RECORD_DIR", str(tmp_path))
    with TestClient(create_app(ServeSettings(champion=champion, feedback_token=TOKEN))) as client:
        unrecorded = client.post("/feedback", json=labels, headers=AUTH)
    assert unrecorded.status_code == 404
    assert "MLSHIP_RECORD_ENABLED=true" in unrecorded.json()["detail"]
