"""Data: the example generator, reading tables, and the data contract."""
