"""`mlship init`: infer params, a schema and plots for your own table, and pin it with DVC."""
