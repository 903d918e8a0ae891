"""Fixtures of the handler tests: a moto server the handlers reach through ``AWS_ENDPOINT_URL``, the jobs service's
table and queues on it, and a stand-in for Lambda's SQS mapping (receive, invoke, delete what succeeded)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from eventweave.handlers import Settings
from eventweave.handlers.clients import reset_clients
from eventweave.testing.events import FakeLambdaContext as _LambdaContext
from eventweave.testing.events import sqs_record_from_message

from ..handlers.front import JobsFront
from ..handlers.word_stats import CountWords

REGION = "us-east-1"


# Three seconds left, like the worker's short timeout in the stack.
FakeLambdaContext = partial(_LambdaContext, remaining_ms=3_000, function_name="jobs-test")


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """A clean moto state for one test; eventweave's clients (and boto3's) point at it through the environment."""
    import boto3
    import requests

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    reset_clients()

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)  # type: ignore[call-overload]

    yield make
    reset_clients()


def http_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A Function URL event (payload format 2.0) as Lambda delivers it; ``body`` is JSON-encoded unless a str."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "jobs",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def location(self) -> str:
        return self.headers["Location"]


@dataclass
class Jobs:
    """The service wired by hand on moto: what ``JobsStack`` wires on AWS (env vars become constructor arguments)."""

    ddb: Any
    sqs: Any
    table: str
    tasks: str
    dlq: str
    front: Callable[[Any, Any], Any]
    worker: Callable[[Any, Any], Any]

    def post(self, body: Any) -> Response:
        return self.call(http_event("POST", "/jobs", body))

    def get(self, location: str) -> Response:
        return self.call(http_event("GET", location))

    def call(self, event: dict[str, Any]) -> Response:
        raw = self.front(event, FakeLambdaContext())
        return Response(raw["statusCode"], raw["headers"], json.loads(raw["body"]))

    def item(self, job_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.ddb.get_item(TableName=self.table, Key={"id": {"S": job_id}}, ConsistentRead=True)[
            "Item"
        ]
        return item

    def deliver(self) -> list[str]:
        """Lambda's SQS mapping, one message per invocation (batch size 1, as deployed): receive every visible task,
        invoke the worker, delete the ones it did not report failed. Returns the failed message ids."""
        failed: list[str] = []
        arn = self.sqs.get_queue_attributes(QueueUrl=self.tasks, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        while messages := self.sqs.receive_message(
            QueueUrl=self.tasks, MaxNumberOfMessages=1, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", []):
            [message] = messages
            try:
                response = self.worker({"Records": [sqs_record_from_message(message, arn)]}, FakeLambdaContext())
            except Exception:  # every record of the batch failed: eventweave raises, Lambda retries the batch
                response = {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
            if response and response.get("batchItemFailures"):
                failed.append(message["MessageId"])
                return failed  # a failed task is visible again at once here (visibility 0): the next call retries it
            self.sqs.delete_message(QueueUrl=self.tasks, ReceiptHandle=message["ReceiptHandle"])
        return failed

    def dead_letters(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]



def make_jobs(aws: Callable[[str], Any], *, deadline_seconds: int = 300, ttl_seconds: int = 86_400) -> Jobs:
    ddb, sqs = aws("dynamodb"), aws("sqs")
    table = "jobs"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    # Visibility 0: a failed task is redelivered at the next receive instead of after the deployed 12 s.
    tasks = sqs.create_queue(QueueName="jobs-tasks", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    front = JobsFront.lambda_handler(
        settings=Settings(),
        table=table,
        task_queue_url=tasks,
        deadline_seconds=deadline_seconds,
        ttl_seconds=ttl_seconds,
    )
    worker = CountWords.lambda_handler(settings=Settings(dlq=dlq), table=table)
    return Jobs(ddb, sqs, table, tasks, dlq, front, worker)


@pytest.fixture
def jobs(aws: Callable[[str], Any]) -> Jobs:
    return make_jobs(aws)
