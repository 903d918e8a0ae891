"""Decoupled invocation against moto: POST -> 202 + Location, the worker records the outcome, GET reports it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventweave.coordination.requests import MAX_BODY_BYTES, RequestFront, RequestStore
from eventweave.handlers import Settings
from examples.showcase.job_handlers import Summarize
from tests.functional.drivers import QueueDriver, drain


def http_event(method: str, path: str, body: str | None = None, *, base64_body: bool = False) -> dict[str, Any]:
    """A Lambda function URL / HTTP API event (payload format 2.0), as AWS documents it."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "curl/8"},
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:19:03:58 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
    return event


@pytest.fixture
def env(aws: Any) -> dict[str, Any]:
    ddb, sqs = aws("dynamodb"), aws("sqs")
    ddb.create_table(TableName="requests", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    tasks = sqs.create_queue(QueueName="requests-tasks", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName="requests-dlq")["QueueUrl"]
    front = RequestFront.lambda_handler(settings=Settings(), table="requests", task_queue_url=tasks)
    worker = Summarize.lambda_handler(settings=Settings(dlq=dlq), table="requests")
    return {"ddb": ddb, "sqs": sqs, "tasks": tasks, "dlq": dlq, "front": front, "worker": worker}


def post(env: dict[str, Any], body: Any, context: Any) -> dict[str, Any]:
    return env["front"](http_event("POST", "/requests", json.dumps(body)), context)  # type: ignore[no-any-return]


def get(env: dict[str, Any], location: str, context: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = env["front"](http_event("GET", location), context)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def run_worker(env: dict[str, Any], context: Any) -> None:
    QueueDriver(env["sqs"], env["tasks"], env["worker"], context).run()


def test_accept_then_poll_until_the_result(env: dict[str, Any], lambda_context: Any) -> None:
    accepted = post(env, {"text": "the quick brown fox jumps over the lazy dog", "max_words": 3}, lambda_context)
    assert accepted["statusCode"] == 202
    location = accepted["headers"]["Location"]
    body = json.loads(accepted["body"])
    assert location == f"/requests/{body['id']}" == body["location"]
    assert body["status"] == "PENDING" and body["deadline_at"] == body["created_at"] + 900
    assert accepted["headers"]["Retry-After"] == "2"

    status, doc, headers = get(env, location, lambda_context)
    assert (status, doc["status"], headers["Retry-After"]) == (202, "PENDING", "2")

    # The task message carries the request id as its correlation id, so both functions' logs join on it.
    [message] = env["sqs"].receive_message(QueueUrl=env["tasks"], MessageAttributeNames=["All"])["Messages"]
    assert message["MessageAttributes"]["eventweave-correlation-id"]["StringValue"] == body["id"]

    run_worker(env, lambda_context)
    status, doc, _ = get(env, location + "/", lambda_context)
    assert status == 200
    assert doc["status"] == "SUCCEEDED" and doc["result"] == {"words": 9, "summary": "the quick brown"}
    item = RequestStore("requests").get(body["id"])
    assert item is not None and item["attempts"]["N"] == "1" and "running_until" not in item


def test_a_duplicate_task_message_does_not_run_the_work_twice(env: dict[str, Any], lambda_context: Any) -> None:
    body = json.loads(post(env, {"text": "a b c"}, lambda_context)["body"])
    env["sqs"].send_message(QueueUrl=env["tasks"], MessageBody=json.dumps({"request_id": body["id"],
                                                                           "body": {"text": "a b c"}}))
    run_worker(env, lambda_context)
    item = RequestStore("requests").get(body["id"])
    assert item is not None and item["attempts"]["N"] == "1" and item["status"]["S"] == "SUCCEEDED"


def test_unknown_and_malformed_ids_are_404(env: dict[str, Any], lambda_context: Any) -> None:
    assert get(env, "/requests/00000000-0000-0000-0000-000000000000", lambda_context)[0] == 404
    assert get(env, "/requests/" + "x" * 300, lambda_context)[0] == 404
    assert get(env, "/elsewhere", lambda_context)[0] == 404


@pytest.mark.parametrize(("event", "status"), [
    (http_event("POST", "/requests", "{not json"), 400),
    (http_event("POST", "/requests", ""), 400),
    (http_event("POST", "/requests"), 400),
    (http_event("POST", "/requests", "%%%", base64_body=True), 400),
    (http_event("POST", "/requests", "x" * (MAX_BODY_BYTES + 1)), 413),
    (http_event("PUT", "/requests", "{}"), 405),
    (http_event("DELETE", "/requests/abc"), 405),
    ({"Records": []}, 400),
])
def test_bad_requests_are_refused_and_nothing_is_enqueued(
    env: dict[str, Any], lambda_context: Any, event: dict[str, Any], status: int
) -> None:
    response = env["front"](event, lambda_context)
    assert response["statusCode"] == status
    assert "error" in json.loads(response["body"])
    drain(env["sqs"], env["tasks"], 0)


def test_a_base64_body_is_accepted(env: dict[str, Any], lambda_context: Any) -> None:
    response = env["front"](http_event("POST", "/requests", '{"text": "hi"}', base64_body=True), lambda_context)
    assert response["statusCode"] == 202


def test_a_body_that_does_not_match_the_model_fails_the_request_not_the_queue(
    env: dict[str, Any], lambda_context: Any
) -> None:
    location = post(env, {"max_words": 0}, lambda_context)["headers"]["Location"]
    run_worker(env, lambda_context)
    status, doc, _ = get(env, location, lambda_context)
    assert status == 422 and doc["status"] == "FAILED" and doc["error"]["type"] == "ValidationError"
    drain(env["sqs"], env["dlq"], 0)  # the client's mistake pages no one


def test_a_permanent_error_fails_the_request_and_reaches_the_dlq(env: dict[str, Any], lambda_context: Any) -> None:
    location = post(env, {"text": "forbidden words"}, lambda_context)["headers"]["Location"]
    run_worker(env, lambda_context)
    status, doc, _ = get(env, location, lambda_context)
    assert (status, doc["error"]) == (422, {"type": "PermanentError", "message": "this text may not be summarized"})
    assert json.loads(drain(env["sqs"], env["dlq"], 1)[0]["Body"])["reason"] == "permanent-error"


def test_a_retryable_failure_releases_the_request_for_the_retry(
    env: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []
    real = Summarize.work

    def flaky(self: Summarize, request: Any, ctx: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise TimeoutError("the model server did not answer")
        return real(self, request, ctx)

    monkeypatch.setattr(Summarize, "work", flaky)
    location = post(env, {"text": "x y"}, lambda_context)["headers"]["Location"]
    run_worker(env, lambda_context)
    status, doc, _ = get(env, location, lambda_context)
    assert (status, doc["result"]["words"], len(attempts)) == (200, 2, 2)


def test_past_the_deadline_a_request_is_gone_and_never_started(env: dict[str, Any], lambda_context: Any) -> None:
    accepted = post(env, {"text": "late"}, lambda_context)
    request_id = json.loads(accepted["body"])["id"]
    env["ddb"].update_item(TableName="requests", Key={"id": {"S": request_id}},
                           UpdateExpression="SET deadline_at = :past",
                           ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}})
    status, doc, _ = get(env, accepted["headers"]["Location"], lambda_context)
    assert (status, doc["status"]) == (410, "EXPIRED")
    run_worker(env, lambda_context)
    item = RequestStore("requests").get(request_id)
    assert item is not None and item["status"]["S"] == "EXPIRED" and item["attempts"]["N"] == "0"
    assert get(env, accepted["headers"]["Location"], lambda_context)[0] == 410


def test_410_is_final_even_when_a_started_request_finishes_after_its_deadline(
    env: dict[str, Any], lambda_context: Any
) -> None:
    accepted = post(env, {"text": "slow"}, lambda_context)
    request_id = json.loads(accepted["body"])["id"]
    store = RequestStore("requests")
    store.start(request_id, lease_seconds=30)
    env["ddb"].update_item(TableName="requests", Key={"id": {"S": request_id}},
                           UpdateExpression="SET deadline_at = :past",
                           ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}})
    assert get(env, accepted["headers"]["Location"], lambda_context)[0] == 410
    store.succeed(request_id, {"words": 1})  # the worker started in time and finishes late: its result is kept
    status, doc, _ = get(env, accepted["headers"]["Location"], lambda_context)
    assert (status, doc["status"], doc["finished_late"]) == (410, "EXPIRED", True)
    item = store.get(request_id)
    assert item is not None and item["status"]["S"] == "SUCCEEDED"


def test_an_expired_record_is_404_even_before_dynamodb_deletes_it(env: dict[str, Any], lambda_context: Any) -> None:
    accepted = post(env, {"text": "old"}, lambda_context)
    request_id = json.loads(accepted["body"])["id"]
    env["ddb"].update_item(TableName="requests", Key={"id": {"S": request_id}},
                           UpdateExpression="SET expires_at = :past",
                           ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}})
    assert get(env, accepted["headers"]["Location"], lambda_context)[0] == 404


def test_an_unreachable_queue_is_503(aws: Any, lambda_context: Any) -> None:
    aws("dynamodb").create_table(TableName="requests", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                 BillingMode="PAY_PER_REQUEST")
    front = RequestFront.lambda_handler(settings=Settings(), table="requests",
                                        task_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    response = front(http_event("POST", "/requests", '{"text": "x"}'), lambda_context)
    assert response["statusCode"] == 503 and response["headers"]["Retry-After"] == "5"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
_paths = st.sampled_from(["/requests", "/requests/", "/requests/abc", "/requests/a/b", "/", "/other"]) | st.text()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD"]) | st.text(max_size=8),
    path=_paths,
    body=st.none() | st.text(max_size=50) | _json_values.map(json.dumps),
    base64_body=st.booleans(),
    mangle=st.sampled_from([None, "no-context", "not-a-dict", "http-not-a-dict"]),
)
def test_any_event_gets_a_well_formed_answer(
    env: dict[str, Any], lambda_context: Any, method: str, path: str, body: str | None, base64_body: bool,
    mangle: str | None,
) -> None:
    event: Any = http_event(method, path, body)
    event["isBase64Encoded"] = base64_body
    if mangle == "no-context":
        del event["requestContext"]
    elif mangle == "not-a-dict":
        event = [event]
    elif mangle == "http-not-a-dict":
        event["requestContext"]["http"] = "GET"
    response = env["front"](event, lambda_context)
    assert response["statusCode"] in {202, 400, 404, 405, 413}
    assert isinstance(json.loads(response["body"]), dict)
