"""The metric gate: the pull request's model against main's on the same held-out rows."""
