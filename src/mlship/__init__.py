"""mlship: a reproducible, gated, monitored path from a CSV to a served model."""

__version__ = "0.1.0"
