"""Shared fixtures: an embedded moto server (one per xdist worker) that boto3 reaches through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from eventweave.handlers.clients import reset_clients

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "eventweave-tests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (random port) for the whole session; env points boto3 at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN")}
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    reset_clients()
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_clients()


@pytest.fixture
def aws(moto_endpoint: str) -> Iterator[Any]:
    """A clean moto state for one test; yields a factory of boto3 clients bound to it."""
    import boto3
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    reset_clients()

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1")  # type: ignore[call-overload]

    yield make
    reset_clients()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Escape lone surrogates in captured output: tests feed them on purpose, and pytest-xdist sends reports as strict
    UTF-8, crashing the worker on one although the test itself passed."""
    outcome: Any = yield
    report = outcome.get_result()
    report.sections = [
        (name, content.encode("utf-8", "backslashreplace").decode("utf-8")) for name, content in report.sections
    ]
