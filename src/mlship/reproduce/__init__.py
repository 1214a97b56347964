"""`mlship reproduce`: rebuild a registered model version from its lineage and compare bytes."""
