"""Client mistakes and broken models: every one a short JSON 4xx in one schema, never a 500."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_helpers import copy_model, model_columns, records

from mlship.config import Params
from mlship.serving.app import create_app
from mlship.serving.settings import ServeSettings
from mlship.serving.traffic import FAILED_ROLE_HEADER

TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}
HUGE = "1" + "0" * 400  # 10**400 as a JSON number


@pytest.fixture(name="model_dir")
def _model_dir(trained_project: tuple[Path, Params]) -> Path:
    root, params = trained_project
    return root / params.paths.model_dir


@pytest.fixture(name="row")
def _row(trained_project: tuple[Path, Params], model_dir: Path) -> dict[str, Any]:
    root, params = trained_project
    held_out = pd.read_parquet(root / params.paths.split_dir / "test.parquet")
    return records(held_out.head(1), model_columns(model_dir))[0]


@pytest.fixture(name="client")
def _client(model_dir: Path) -> Iterator[TestClient]:
    settings = ServeSettings(champion=str(model_dir), admin_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        yield client


def _error(response: Any, status: int = 422) -> Any:
    """The response is `status`, short, JSON in the one error schema; return its detail."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    assert len(response.content) < 4000
    body = response.json()
    assert set(body) == {"detail"}
    return body["detail"]


def _locs(detail: list[dict[str, Any]]) -> list[list[Any]]:
    return [item["loc"] for item in detail]


def _with_field(row: dict[str, Any], field: str, raw: str) -> str:
    """The row as JSON text with `field`'s value replaced by the raw JSON `raw`."""
    text = json.dumps({**row, field: 123456.0})
    return text.replace(f'"{field}": 123456.0', f'"{field}": {raw}')


@pytest.mark.parametrize(
    "raw",
    [HUGE, "-" + HUGE, "18446744073709551616", '"\\ud800"', '"x\\udfff"', "true", "false"],
)
def test_hostile_values_of_a_numeric_field_get_422_naming_it(
    client: TestClient, row: dict[str, Any], raw: str
) -> None:
    response = client.post("/predict", content=_with_field(row, "age", raw), headers=JSON)
    assert _locs(_error(response)) == [["body", "age"]]


def test_a_lone_surrogate_in_a_text_field_or_a_key_gets_422_naming_it(
    client: TestClient, row: dict[str, Any]
) -> None:
    response = client.post(
        "/predict", content=_with_field(row, "region", '"\\ud800"'), headers=JSON
    )
    assert _locs(_error(response)) == [["body", "region"]]
    keyed = json.dumps(row)[:-1] + ', "\\ud800": 1}'
    detail = _error(client.post("/predict", content=keyed, headers=JSON))
    assert _locs(detail) == [["body", "\\ud800"]]


def test_a_huge_integer_in_an_extra_key_or_a_batch_row_gets_422(
    client: TestClient, row: dict[str, Any]
) -> None:
    extra = json.dumps(row)[:-1] + f', "other": {HUGE}}}'
    assert _locs(_error(client.post("/predict", content=extra, headers=JSON))) == [
        ["body", "other"]
    ]
    batch = '{"records": [' + json.dumps(row) + ", " + _with_field(row, "age", HUGE) + "]}"
    assert _locs(_error(client.post("/predict", content=batch, headers=JSON))) == [
        ["body", "records", 1, "age"]
    ]


def test_a_repeated_key_gets_422_naming_it(client: TestClient, row: dict[str, Any]) -> None:
    text = json.dumps(row)[:-1] + ', "age": 40.0}'
    detail = _error(client.post("/predict", content=text, headers=JSON))
    assert detail[0]["type"] == "duplicate_key" and detail[0]["loc"] == ["body", "age"]


def test_an_error_echoes_a_huge_input_cut_short(client: TestClient, row: dict[str, Any]) -> None:
    response = client.post("/predict", json={**row, "region": "x" * 1_000_000})
    detail = _error(response)
    assert detail[0]["loc"] == ["body", "region"]
    assert len(detail[0]["input"]) < 200
    long_key = client.post("/predict", json={**row, "k" * 100_000: 1})
    assert len(json.dumps(_error(long_key))) < 1000


@pytest.mark.parametrize("path", ["/admin/traffic", "/admin/reload"])
@pytest.mark.parametrize(
    "body",
    [
        f'{{"mode": "canary", "canary_weight": {HUGE}}}',
        '{"mode": "\\ud800"}',
        '{"\\ud800": 1}',
        '{"mode": "champion", "mode": "canary"}',
        '{"canary_weight": true, "mode": "champion"}',
        '{"challenger": "x\\u0000"}',
        '{"drop_challenger": "yes"}',
    ],
)
@pytest.mark.parametrize("token", [True, False])
def test_hostile_admin_bodies_get_a_4xx_with_or_without_the_token(
    client: TestClient, path: str, body: str, token: bool
) -> None:
    headers = {**JSON, **(ADMIN if token else {})}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code in (401, 422), response.text[:300]
    _error(response, response.status_code)
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("value", ["Bearer é", "Bearer \x80\xff", "Basic é"])
def test_a_non_ascii_authorization_header_is_refused_not_a_500(
    client: TestClient, value: str
) -> None:
    headers = {"Authorization": value.encode("latin-1")}
    response = client.post("/admin/traffic", json={"mode": "champion"}, headers=headers)
    assert response.status_code in (401, 403)
    _error(response, response.status_code)


def test_a_declared_oversized_body_gets_the_same_json_413_as_a_streamed_one(
    model_dir: Path,
) -> None:
    settings = ServeSettings(champion=str(model_dir), max_body_bytes=10_000)
    with TestClient(create_app(settings)) as client:
        declared = client.post("/predict", content=b"x" * 20_000)

        def chunks() -> Iterator[bytes]:
            yield from [b" " * 5_000] * 4

        streamed = client.post("/predict", content=chunks())
        assert _error(declared, 413) == _error(streamed, 413)


def test_head_health_answers_200_without_a_body(client: TestClient) -> None:
    response = client.head("/health")
    assert response.status_code == 200 and response.content == b""


def test_openapi_lists_every_error_status_with_the_one_error_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        ("/predict", "post"): {"400", "413", "422", "500", "503"},
        ("/admin/traffic", "post"): {"400", "401", "403", "409", "413", "422"},
        ("/admin/reload", "post"): {"400", "401", "403", "409", "413", "422"},
        ("/ready", "get"): {"503"},
    }
    for (path, method), statuses in expected.items():
        responses = spec["paths"][path][method]["responses"]
        assert statuses <= set(responses), (path, set(responses))
        for status in statuses:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
    assert "head" in spec["paths"]["/health"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_a_client_mistake_logs_one_line_and_no_traceback(
    client: TestClient, row: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mlship.serving"):
        client.post("/predict", content=_with_field(row, "age", HUGE), headers=JSON)
        client.post("/predict", content=_with_field(row, "age", '"\\ud800"'), headers=JSON)
    lines = [r for r in caplog.records if r.name == "mlship.serving"]
    assert len(lines) == 2 and all(r.exc_info is None for r in lines)
    assert all(len(r.getMessage()) < 300 for r in lines)


def _broken_models(model_dir: Path, tmp_path: Path) -> dict[str, Path]:
    skops = copy_model(model_dir, tmp_path / "corrupt")
    (skops / "model.skops").write_bytes(b"PK\x03\x04 not a model")
    schema = copy_model(model_dir, tmp_path / "schema")
    shutil.copy(skops / "model.skops", schema / "model.skops")
    return {
        "numeric is a number": copy_model(model_dir, tmp_path / "numeric", numeric=5),
        "trusted_types is a number": copy_model(model_dir, tmp_path / "trusted", trusted_types=5),
        "unknown task": copy_model(model_dir, tmp_path / "task", task="ranking"),
        "model.json not an object": _json_list(copy_model(model_dir, tmp_path / "list")),
        "corrupt model.skops": skops,
    }


def _json_list(directory: Path) -> Path:
    (directory / "model.json").write_text("[1, 2]", encoding="utf-8")
    return directory


def test_a_reload_that_cannot_load_answers_409_and_keeps_models_and_sources(
    client: TestClient, model_dir: Path, tmp_path: Path
) -> None:
    good = copy_model(model_dir, tmp_path / "good")
    assert client.post("/admin/reload", json={"challenger": str(good)}, headers=ADMIN).is_success
    before = client.get("/model").json()
    for why, broken in _broken_models(model_dir, tmp_path).items():
        for role in ("champion", "challenger"):
            response = client.post("/admin/reload", json={role: str(broken)}, headers=ADMIN)
            detail = _error(response, 409)
            assert "previous models kept" in detail, why
            assert response.headers[FAILED_ROLE_HEADER] == role, why
            assert client.get("/model").json() == before, why
    # A reload without a body (what `mlship rollout` sends) uses the last sources that loaded.
    again = client.post("/admin/reload", headers=ADMIN)
    assert again.status_code == 200
    assert again.json()["challenger"]["source"] == str(good)


def test_an_unloadable_challenger_at_start_leaves_the_champion_serving(
    model_dir: Path, tmp_path: Path, row: dict[str, Any]
) -> None:
    broken = _broken_models(model_dir, tmp_path)["trusted_types is a number"]
    settings = ServeSettings(champion=str(model_dir), challenger=str(broken))
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        described = client.get("/model").json()
        assert described["challenger"] is None
        assert "trusted_types must be a list" in described["challenger_error"]
        assert client.post("/predict", json=row).json()["model_role"] == "champion"
