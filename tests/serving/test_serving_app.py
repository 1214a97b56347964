"""The model service in-process: predictions, schema errors, limits, traffic modes, admin."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_helpers import copy_model, model_columns, records

from mlship.config import Params
from mlship.errors import ModelError
from mlship.serving.app import create_app
from mlship.serving.settings import ServeSettings, unknown_settings
from mlship.serving.traffic import TrafficPolicy

TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(name="model_dir")
def _model_dir(trained_project: tuple[Path, Params]) -> Path:
    root, params = trained_project
    return root / params.paths.model_dir


@pytest.fixture(name="held_out")
def _held_out(trained_project: tuple[Path, Params]) -> pd.DataFrame:
    root, params = trained_project
    return pd.read_parquet(root / params.paths.split_dir / "test.parquet")


@pytest.fixture(name="client")
def _client(model_dir: Path) -> Iterator[TestClient]:
    settings = ServeSettings(champion=str(model_dir), admin_token=TOKEN, max_batch=1000)
    with TestClient(create_app(settings)) as client:
        yield client


def _with_challenger(model_dir: Path, tmp_path: Path, **extra: Any) -> TestClient:
    challenger = copy_model(model_dir, tmp_path / "challenger")
    settings = ServeSettings(
        champion=str(model_dir), challenger=str(challenger), admin_token=TOKEN, **extra
    )
    return TestClient(create_app(settings))


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_predictions_equal_the_pipeline_on_held_out_rows(
    client: TestClient,
    trained_project: tuple[Path, Params],
    model_dir: Path,
    held_out: pd.DataFrame,
) -> None:
    root, params = trained_project
    expected = pd.read_csv(root / params.paths.eval_dir / "predictions.csv")
    assert expected["id"].astype(str).tolist() == held_out["__id__"].astype(str).tolist()
    rows = records(held_out, model_columns(model_dir))
    served: list[float] = []
    for start in range(0, len(rows), 1000):
        response = client.post("/predict", json={"records": rows[start : start + 1000]})
        assert response.status_code == 200, response.text
        served += [item["probability"] for item in response.json()["predictions"]]
    np.testing.assert_allclose(served, expected["score"].to_numpy(), rtol=0, atol=1e-12)
    # Single-record requests answer the same numbers as the batch.
    for index in (0, 7, 42):
        single = client.post("/predict", json=rows[index]).json()
        assert abs(single["probability"] - served[index]) <= 1e-12


def test_single_record_answer_names_model_version_and_role(
    client: TestClient, model_dir: Path, held_out: pd.DataFrame
) -> None:
    row = records(held_out.head(1), model_columns(model_dir))[0]
    body = client.post("/predict", json=row).json()
    assert body["model_role"] == "champion"
    assert body["model_version"] == client.get("/model").json()["champion"]["version"]
    assert body["prediction"] in (0, 1)
    assert 0.0 <= body["probability"] <= 1.0


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        # Strict types: a string is not a number (not even "42"), nor a boolean.
        ({"age": "old"}, ["body", "age"], "float_type"),
        ({"age": "42"}, ["body", "age"], "float_type"),
        ({"age": True}, ["body", "age"], "float_type"),
        ({"agee": 3}, ["body", "agee"], "extra_forbidden"),
        ({"contract": 7}, ["body", "contract"], "string_type"),
        ({"monthly_charges": 1e300}, ["body", "monthly_charges"], "less_than_equal"),
        ({"region": "x" * 5000}, ["body", "region"], "string_too_long"),
    ],
)
def test_invalid_record_gets_422_naming_the_field(
    client: TestClient,
    model_dir: Path,
    held_out: pd.DataFrame,
    change: dict[str, Any],
    field: list[str],
    kind: str,
) -> None:
    row = {**records(held_out.head(1), model_columns(model_dir))[0], **change}
    response = client.post("/predict", json=row)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [field]
    assert errors[0]["type"] == kind


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_get_422_naming_the_field(
    client: TestClient, model_dir: Path, held_out: pd.DataFrame, number: str
) -> None:
    # Python's JSON parser accepts these; the 422 that echoes them back must still encode.
    row = records(held_out.head(1), model_columns(model_dir))[0]
    body = json.dumps({**row, "age": 0.0}).replace('"age": 0.0', f'"age": {number}')
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "age"]]


def test_missing_field_in_a_batch_names_the_record_and_field(
    client: TestClient, model_dir: Path, held_out: pd.DataFrame
) -> None:
    rows = records(held_out.head(3), model_columns(model_dir))
    del rows[2]["tenure_months"]
    response = client.post("/predict", json={"records": rows})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "records", 2, "tenure_months"]


def test_batch_over_the_maximum_is_rejected_with_422(
    model_dir: Path, held_out: pd.DataFrame
) -> None:
    settings = ServeSettings(champion=str(model_dir), max_batch=5)
    rows = records(held_out.head(6), model_columns(model_dir))
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict", json={"records": rows})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "records"]
        assert client.post("/predict", json={"records": rows[:5]}).status_code == 200


def test_oversized_body_gets_413_declared_or_streamed(model_dir: Path) -> None:
    settings = ServeSettings(champion=str(model_dir), max_body_bytes=10_000)
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", content=b"x" * 20_000).status_code == 413

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b" " * 5_000

        assert client.post("/predict", content=chunks()).status_code == 413
        assert client.get("/health").status_code == 200


def test_malformed_json_and_wrong_shapes_get_422_not_500(client: TestClient) -> None:
    for body in (b"{", b"[1, 2]", b"null", b'"text"', b'{"records": 5}', b'{"records": [1]}'):
        response = client.post(
            "/predict", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (body, response.text)


def test_unseen_category_and_missing_values_are_scored(
    client: TestClient, model_dir: Path, held_out: pd.DataFrame
) -> None:
    row = records(held_out.head(1), model_columns(model_dir))[0]
    row.update({"contract": "lifetime", "age": None, "region": None})
    response = client.post("/predict", json=row)
    assert response.status_code == 200
    assert 0.0 <= response.json()["probability"] <= 1.0


def test_admin_endpoints_need_the_bearer_token(client: TestClient) -> None:
    body = {"mode": "champion"}
    assert client.post("/admin/traffic", json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/admin/traffic", json=body, headers=wrong).status_code == 403
    assert client.post("/admin/reload", headers=wrong).status_code == 403
    allowed = client.post("/admin/traffic", json=body, headers=ADMIN)
    assert allowed.status_code == 200 and allowed.json()["traffic"]["mode"] == "champion"
    # Past the token check, the handler itself answers: no challenger loaded, no canary.
    refused = client.post("/admin/traffic", json={"mode": "canary"}, headers=ADMIN)
    assert refused.status_code == 409 and "needs a loaded challenger" in refused.text


def test_canary_answers_each_key_as_the_policy_routes_it_and_sticks(
    model_dir: Path, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    row = records(held_out.head(1), model_columns(model_dir))[0]
    policy = TrafficPolicy("canary", 30)
    with _with_challenger(model_dir, tmp_path, traffic="canary", canary_weight=30) as client:
        for key in [f"user-{i}" for i in range(30)] + ["user-3"] * 5:
            answer = client.post("/predict", json=row, headers={"X-Request-Key": key}).json()
            assert answer["model_role"] == policy.route(key, True).answer
        update = {"mode": "canary", "canary_weight": 100}
        assert client.post("/admin/traffic", json=update, headers=ADMIN).status_code == 200
        assert client.post("/predict", json=row).json()["model_role"] == "challenger"
        metrics = client.get("/metrics").text
        assert _metric(metrics, "mlship_traffic_weight_percent") == 100.0
        assert _metric(metrics, "mlship_predict_requests_total") == 36


@pytest.mark.parametrize("weight", [5.0, 30.0, 50.0])
def test_canary_weight_is_the_share_of_keys_sent_to_the_challenger(weight: float) -> None:
    policy = TrafficPolicy("canary", weight)
    keys = [f"customer-{i}" for i in range(20_000)]
    share = sum(policy.route(k, True).answer == "challenger" for k in keys) / len(keys)
    assert abs(share - weight / 100) < 0.015
    assert {policy.route("customer-1", True) for _ in range(20)} == {
        policy.route("customer-1", True)
    }
    assert TrafficPolicy("canary", 100).route(None, False).answer == "champion"


def test_shadow_scores_every_request_with_both_but_champion_answers(
    model_dir: Path, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    rows = records(held_out.head(20), model_columns(model_dir))
    with _with_challenger(model_dir, tmp_path, traffic="shadow") as client:
        answers = {client.post("/predict", json=row).json()["model_role"] for row in rows}
        assert answers == {"champion"}
        metrics = ""
        for _ in range(100):  # the shadow call finishes after the answer
            metrics = client.get("/metrics").text
            if _metric(metrics, "mlship_predict_requests_total", role="challenger") == 20:
                break
        assert _metric(metrics, "mlship_predict_requests_total", role="champion") == 20
        assert _metric(metrics, "mlship_predict_requests_total", role="challenger") == 20
        assert _metric(metrics, "mlship_prediction_value_count", role="challenger") == 20


def test_ab_reports_a_sticky_arm_split_half_and_half(
    model_dir: Path, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    row = records(held_out.head(1), model_columns(model_dir))[0]
    keys = [f"k{i}" for i in range(20_000)]
    arms = Counter(TrafficPolicy("ab").route(k, True).arm for k in keys)
    assert abs(arms["b"] / len(keys) - 0.5) < 0.015
    with _with_challenger(model_dir, tmp_path, traffic="ab") as client:
        answers = [
            client.post("/predict", json=row, headers={"X-Request-Key": f"k{i}"}).json()
            for i in range(30)
        ]
        assert {a["arm"] for a in answers} == {"a", "b"}
        assert all((a["arm"] == "b") == (a["model_role"] == "challenger") for a in answers)
        first = client.post("/predict", json=row, headers={"X-Request-Key": "k0"}).json()
        assert first["arm"] == answers[0]["arm"]


def test_metrics_count_requests_errors_latency_and_predictions_per_version(
    client: TestClient, model_dir: Path, held_out: pd.DataFrame
) -> None:
    rows = records(held_out.head(5), model_columns(model_dir))
    for row in rows:
        client.post("/predict", json=row)
    client.post("/predict", json={"records": rows})
    client.post("/predict", json={"nope": 1})
    version = client.get("/model").json()["champion"]["version"]
    text = client.get("/metrics").text
    labels = {"role": "champion", "version": version}
    assert _metric(text, "mlship_predict_requests_total", **labels) == 6
    assert _metric(text, "mlship_predict_rows_total", **labels) == 10
    assert _metric(text, "mlship_predict_latency_seconds_count", **labels) == 6
    assert _metric(text, "mlship_prediction_value_count", **labels) == 10
    assert _metric(text, "mlship_predict_errors_total", **labels) == 0
    assert _metric(text, "mlship_http_requests_total", path="/predict", status="422") == 1
    assert re.search(r'mlship_model_info\{role="champion",source="[^"]+",version=', text)


def test_a_failing_model_answers_500_is_counted_and_the_service_lives_on(
    model_dir: Path, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    meta_numeric = model_columns(model_dir)[:8]
    broken = copy_model(model_dir, tmp_path / "broken", numeric=["renamed", *meta_numeric[1:]])
    row = records(held_out.head(1), model_columns(model_dir))[0]
    row["renamed"] = row.pop(meta_numeric[0])
    with TestClient(create_app(ServeSettings(champion=str(broken)))) as client:
        response = client.post("/predict", json=row)
        assert response.status_code == 500
        assert "failed to predict" in response.json()["detail"]
        assert _metric(client.get("/metrics").text, "mlship_predict_errors_total") == 1
        assert client.get("/health").status_code == 200


def test_ready_and_model_report_what_is_loaded(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["ready"] is True
    described = client.get("/model").json()
    assert described["challenger"] is None
    assert described["traffic"] == {
        "mode": "champion",
        "canary_weight": 0.0,
        "challenger_percent": 0.0,
    }
    assert "/predict" in client.get("/openapi.json").json()["paths"]


def test_reload_loads_and_drops_a_challenger_and_resets_traffic(
    client: TestClient, model_dir: Path, tmp_path: Path
) -> None:
    challenger = copy_model(model_dir, tmp_path / "next")
    loaded = client.post("/admin/reload", json={"challenger": str(challenger)}, headers=ADMIN)
    assert loaded.status_code == 200
    assert loaded.json()["challenger"]["source"] == str(challenger)
    update = {"mode": "canary", "canary_weight": 25}
    assert client.post("/admin/traffic", json=update, headers=ADMIN).status_code == 200
    dropped = client.post("/admin/reload", json={"drop_challenger": True}, headers=ADMIN)
    assert dropped.json()["challenger"] is None
    assert dropped.json()["traffic"]["mode"] == "champion"
    missing = client.post("/admin/reload", json={"challenger": str(tmp_path)}, headers=ADMIN)
    assert missing.status_code == 409
    assert client.get("/model").json()["challenger"] is None


def test_concurrent_single_rows_share_pipeline_calls_with_identical_answers(
    model_dir: Path, held_out: pd.DataFrame
) -> None:
    rows = records(held_out.head(64), model_columns(model_dir))
    app = create_app(ServeSettings(champion=str(model_dir), batch_window_ms=5))

    async def scenario() -> tuple[list[float], list[float], float]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                batch = await http.post("/predict", json={"records": rows})
                expected = [item["probability"] for item in batch.json()["predictions"]]
                await http.post("/predict", json=rows[0])  # one lone call, then a burst
                answers = await asyncio.gather(*(http.post("/predict", json=r) for r in rows))
                calls = app.state.service.champion.batcher.calls
                return expected, [a.json()["probability"] for a in answers], calls

    expected, single, calls = asyncio.run(scenario())
    assert single == expected
    assert calls < 1 + 1 + 64 / 4  # the batch, the lone call, and far fewer than 64


def test_misspelt_settings_are_named_with_the_likely_setting() -> None:
    environ = {
        "MLSHIP_CHAMPOIN": "models:/churn@champion",
        "MLSHIP_RECORD_ENABLE": "true",
        "MLSHIP_CHAMPION": "artifacts/model",
        "MLSHIP_RECORD_DIR": "records",
        "mlship_port": "8001",  # pydantic-settings matches names case-insensitively
        "MLSHIP_DEPLOY_URL": "http://127.0.0.1:1",
        "PATH": "/usr/bin",
    }
    assert unknown_settings(environ) == [
        "MLSHIP_CHAMPOIN is not a service setting, ignored; did you mean MLSHIP_CHAMPION?",
        "MLSHIP_DEPLOY_URL is not a service setting, ignored",
        "MLSHIP_RECORD_ENABLE is not a service setting, ignored; "
        "did you mean MLSHIP_RECORD_ENABLED?",
    ]


def test_a_missing_champion_stops_serve_with_one_line_and_the_model_exit_code(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlship.cli", "serve", "--champion", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == ModelError.exit_code
    assert result.stderr.strip().splitlines() == [
        f"mlship serve: error: {tmp_path / 'none' / 'model.json'}: cannot read model metadata: "
        f"[Errno 2] No such file or directory: '{tmp_path / 'none' / 'model.json'}'"
    ]
