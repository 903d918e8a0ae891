"""Handler settings, read once from the function's environment (the constructs set these variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .errors import ConfigurationError

__all__ = ["ENV", "Settings", "env_int"]


class ENV:
    """Names of the environment variables eventweave reads. The CDK patterns set them; tests may too."""

    DLQ = "EVENTWEAVE_DLQ"
    IDEMPOTENCY_TABLE = "EVENTWEAVE_IDEMPOTENCY_TABLE"
    IDEMPOTENCY_TTL = "EVENTWEAVE_IDEMPOTENCY_TTL_SECONDS"
    MAX_HOPS = "EVENTWEAVE_MAX_HOPS"
    JOB_TABLE = "EVENTWEAVE_JOB_TABLE"
    FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
    SERVICE = "POWERTOOLS_SERVICE_NAME"
    NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"


DEFAULT_MAX_HOPS = 16
DEFAULT_IDEMPOTENCY_TTL = 3600


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """The whole number ``env[name]`` (``default`` if unset or empty); a clear error if it is none or below ``minimum``.

    Example::

        deadline = env_int(os.environ, "EVENTWEAVE_REQUEST_DEADLINE_SECONDS", 900, 1)
    """
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer; set it to a whole number >= {minimum}") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={value} is below {minimum}; set it to a whole number >= {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime settings of a handler.

    Example::

        settings = Settings.from_env()            # what lambda_handler() does
        settings = Settings(dlq="https://sqs.../orders-dlq", max_hops=4)   # in a test
    """

    dlq: str | None = None
    """Where poison records go: an SQS queue URL or ARN, or an SNS topic ARN. ``None``: poison is retried instead."""
    idempotency_table: str | None = None
    idempotency_ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL
    max_hops: int = DEFAULT_MAX_HOPS
    job_table: str | None = None
    function_name: str = "local"
    service: str = "eventweave"
    namespace: str = "eventweave"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            dlq=env.get(ENV.DLQ) or None,
            idempotency_table=env.get(ENV.IDEMPOTENCY_TABLE) or None,
            idempotency_ttl_seconds=env_int(env, ENV.IDEMPOTENCY_TTL, DEFAULT_IDEMPOTENCY_TTL, 1),
            max_hops=env_int(env, ENV.MAX_HOPS, DEFAULT_MAX_HOPS, 1),
            job_table=env.get(ENV.JOB_TABLE) or None,
            function_name=env.get(ENV.FUNCTION_NAME) or "local",
            service=env.get(ENV.SERVICE) or "eventweave",
            namespace=env.get(ENV.NAMESPACE) or "eventweave",
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (``Settings.from_env().with_(max_hops=4)``)."""
        return replace(self, **changes)  # type: ignore[arg-type]
