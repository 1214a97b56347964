"""Adapters to the outside world (GitHub's API, git and DVC processes); no domain logic."""
