"""Shared test configuration: hypothesis profiles.

``CI=true`` selects the "ci" profile (more examples, no deadline: CI machines are shared and
noisy); otherwise "dev" keeps a local run quick. ``HYPOTHESIS_PROFILE`` overrides both.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
default = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))
