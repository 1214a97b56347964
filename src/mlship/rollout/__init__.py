"""Canary rollout: step the challenger's traffic, compare with the champion, decide."""
