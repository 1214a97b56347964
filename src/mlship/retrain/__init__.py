"""The scheduled retrain loop: ingest a batch, decide, retrain, gate, open a pull request."""
