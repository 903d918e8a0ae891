"""boto3 clients bound to the local cloud's data plane (one place for the endpoint and moto's test credentials)."""

from __future__ import annotations

from typing import Any

__all__ = ["client"]


def client(service: str, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client for ``service`` at ``endpoint_url`` with moto's fixed test credentials."""
    import boto3

    factory: Any = boto3.client  # typed per service literal; the service here is a runtime string
    return factory(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fixed test credentials, never real ones
    )
