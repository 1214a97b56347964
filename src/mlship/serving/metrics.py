"""Prometheus metrics of the service, each model series labelled by `role` and `version`.

Names (documented in docs/serving.md; the rollout controller reads them):
  mlship_predict_requests_total{role,version}       requests a model answered or shadowed
  mlship_predict_errors_total{role,version}         requests whose model call failed
  mlship_predict_latency_seconds{role,version}      model time per request (queue + predict)
  mlship_prediction_value{role,version}             predicted probability (or value) per row
  mlship_predict_rows_total{role,version}           rows scored
  mlship_http_requests_total{method,path,status}    every HTTP response, 4xx included
  mlship_model_info{role,version,source}            1 per loaded model
  mlship_traffic_weight_percent                     canary weight currently applied
  mlship_pipeline_calls{role,version}               pipeline calls (fewer than requests if batching)
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
PROBABILITY_BUCKETS = tuple(round(i / 20, 2) for i in range(1, 21))


class ServiceMetrics:
    """The service's metric families in their own registry (one per app instance)."""

    def __init__(self, task: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["role", "version"]
        self.requests = Counter(
            "mlship_predict_requests",
            "Prediction requests per model",
            labels,
            registry=self.registry,
        )
        self.errors = Counter(
            "mlship_predict_errors",
            "Prediction requests whose model call failed",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlship_predict_latency_seconds",
            "Model latency per request, queueing included",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        buckets = PROBABILITY_BUCKETS if task != "regression" else Histogram.DEFAULT_BUCKETS
        self.values = Histogram(
            "mlship_prediction_value",
            "Predicted probability of the positive (or top) class, or predicted value",
            labels,
            buckets=buckets,
            registry=self.registry,
        )
        self.rows = Counter(
            "mlship_predict_rows", "Rows scored per model", labels, registry=self.registry
        )
        self.http = Counter(
            "mlship_http_requests",
            "HTTP responses by path and status",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.info = Gauge(
            "mlship_model_info",
            "Loaded models (value 1)",
            ["role", "version", "source"],
            registry=self.registry,
        )
        self.weight = Gauge(
            "mlship_traffic_weight_percent",
            "Percent of keyed traffic routed to the challenger (canary; 50 in ab)",
            registry=self.registry,
        )
        self.calls = Gauge(
            "mlship_pipeline_calls",
            "Pipeline calls so far (fewer than requests when micro-batching)",
            labels,
            registry=self.registry,
        )
