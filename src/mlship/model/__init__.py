"""Model: the scikit-learn pipeline, its stable on-disk form, metrics and plots."""
