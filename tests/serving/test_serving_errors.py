"""An MlshipError raised while answering becomes the one JSON error, its status by its kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlship.config import Params
from mlship.errors import (
    DataError,
    LoadFailed,
    MlshipError,
    ModelError,
    ParamsError,
    RegistryError,
    SchemaViolation,
)
from mlship.serving.app import create_app
from mlship.serving.settings import ServeSettings


def _client_raising(model_dir: Path, error: MlshipError) -> TestClient:
    app = create_app(ServeSettings(champion=str(model_dir)))

    async def fail() -> None:
        raise error

    app.add_api_route("/fail", fail)
    return TestClient(app)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (SchemaViolation("column age: -3 is below its minimum 0"), 422),
        (DataError("records: no rows"), 422),
        (ParamsError("threshold must lie in [0, 1]"), 400),
        (LoadFailed("champion", ModelError("models:/m@champion is not set")), 503),
        (RegistryError("registry: cannot reach the server"), 500),
        (MlshipError("something mlship did not expect"), 500),
    ],
)
def test_an_mlship_error_answers_its_status_with_its_message_as_detail(
    trained_project: tuple[Path, Params], error: MlshipError, status: int
) -> None:
    root, params = trained_project
    with _client_raising(root / params.paths.model_dir, error) as client:
        response = client.get("/fail")

        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"detail": str(error)}
        assert client.get("/health").status_code == 200


def test_a_bug_that_is_no_mlship_error_stays_a_generic_500(
    trained_project: tuple[Path, Params],
) -> None:
    root, params = trained_project
    app = create_app(ServeSettings(champion=str(root / params.paths.model_dir)))

    async def fail() -> None:
        raise KeyError("internal detail")

    app.add_api_route("/fail", fail)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/fail")

    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
