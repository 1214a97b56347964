"""Pre-production tests of a deployed service (staging) before a release reaches production."""
