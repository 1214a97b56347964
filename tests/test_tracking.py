"""MLflow failures as one line: a module only a Databricks registry needs names the build arg."""

from __future__ import annotations

import pytest

from mlship.errors import TrackingError
from mlship.tracking import mlflow_errors


def test_a_missing_databricks_credential_module_names_the_build_arg() -> None:
    with pytest.raises(TrackingError) as caught, mlflow_errors("databricks"):
        raise ModuleNotFoundError("No module named 'google.auth'", name="google.auth")
    assert str(caught.value) == (
        "MLflow at databricks needs google.auth, which the serving image leaves out: build it "
        "with --build-arg SERVING_EXTRAS=databricks for a Databricks registry"
    )


def test_any_other_missing_module_is_left_as_it_is() -> None:
    with pytest.raises(ModuleNotFoundError, match="googlex"), mlflow_errors("databricks"):
        raise ModuleNotFoundError("No module named 'googlex'", name="googlex")
