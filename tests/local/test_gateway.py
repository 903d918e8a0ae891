"""The data plane: DynamoDB stays atomic under concurrent clients (moto alone is not), in-process clients, the clock."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane


def _http_client(service: str, endpoint: str):
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


@pytest.mark.parametrize("path", ["http", "in-process"])
def test_concurrent_counter_updates_are_not_lost(path: str):
    table = f"counters-{uuid.uuid4().hex[:8]}"  # moto's state outlives a data plane within the process
    with DataPlane() as plane:
        make = (
            (lambda s: _http_client(s, plane.endpoint))
            if path == "http"
            else (lambda s: client(s, plane.endpoint, "us-east-1"))
        )
        ddb = make("dynamodb")
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def add(_: int) -> None:
            own = make("dynamodb")
            for _ in range(50):
                own.update_item(
                    TableName=table,
                    Key={"pk": {"S": "n"}},
                    UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(add, range(8)))
        item = ddb.get_item(TableName=table, Key={"pk": {"S": "n"}}, ConsistentRead=True)["Item"]
        assert item["n"]["N"] == "400"


def test_the_fast_sqs_clock_gives_moto_the_same_time_and_visibility_still_holds():
    import time

    from eventweave.local import _moto_clock

    with DataPlane() as plane:
        assert _moto_clock.installed()
        original = _moto_clock._ORIGINAL["unix_time_millis"]
        assert abs(original() - _moto_clock._unix_time_millis()) < 50
        sqs = client("sqs", plane.endpoint, "us-east-1")
        url = sqs.create_queue(QueueName=f"clock-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="x")
        assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=1).get("Messages", [])) == 1
        assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # in flight
        time.sleep(1.2)
        again = sqs.receive_message(QueueUrl=url).get("Messages", [])
        assert len(again) == 1 and again[0]["Body"] == "x"


def test_clients_of_an_in_process_plane_skip_http_but_lambda_goes_through_the_gateway():
    with DataPlane() as plane:
        sqs = client("sqs", plane.endpoint, "us-east-1")
        assert sqs is client("sqs", plane.endpoint, "us-east-1")  # shared, thread-safe
        assert "amazonaws.com" in sqs.meta.endpoint_url  # dispatched to moto's backends in-process
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        assert url.startswith(plane.endpoint + "/")  # reads as the endpoint's, like an HTTP client's answer
        assert _http_client("sqs", plane.endpoint).get_queue_url(QueueName=url.rsplit("/", 1)[1])["QueueUrl"] == url
        assert client("lambda", plane.endpoint, "us-east-1").meta.endpoint_url == plane.endpoint
    assert client("sqs", plane.endpoint, "us-east-1").meta.endpoint_url == plane.endpoint  # stopped: plain HTTP


def test_in_process_responses_name_the_endpoint_in_url_fields_only_and_keep_contents_byte_for_byte():
    import json

    from eventweave.local.aws import URL_FIELDS

    aws_text = "https://sqs.us-east-1.amazonaws.com/123456789012/elsewhere"
    assert URL_FIELDS == {"sqs": ("QueueUrl", "QueueUrls", "queueUrls")}
    with DataPlane() as plane:
        sqs = client("sqs", plane.endpoint, "us-east-1")
        prefix = f"urls-{uuid.uuid4().hex[:8]}"
        dlq = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        source = sqs.create_queue(
            QueueName=f"{prefix}-source",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})},
        )["QueueUrl"]
        local = plane.endpoint + "/123456789012/"
        assert dlq.startswith(local) and source.startswith(local)  # CreateQueue
        assert sqs.get_queue_url(QueueName=f"{prefix}-source")["QueueUrl"] == source  # GetQueueUrl
        assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == sorted([dlq, source])  # ListQueues
        assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
        body = f"see {aws_text} and {plane.endpoint}"
        sqs.send_message(
            QueueUrl=source,
            MessageBody=body,
            MessageAttributes={
                "link": {"DataType": "String", "StringValue": aws_text},
                "raw": {"DataType": "Binary", "BinaryValue": aws_text.encode()},
            },
        )
        (message,) = sqs.receive_message(QueueUrl=source, MessageAttributeNames=["All"])["Messages"]
        assert message["Body"] == body
        assert message["MessageAttributes"]["link"]["StringValue"] == aws_text
        assert message["MessageAttributes"]["raw"]["BinaryValue"] == aws_text.encode()
        # The same holds for every service: an item that holds the endpoint text keeps it.
        ddb = client("dynamodb", plane.endpoint, "us-east-1")
        table = f"urls-{uuid.uuid4().hex[:8]}"
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        link = "https://dynamodb.us-east-1.amazonaws.com/"
        ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "link": {"S": link}})
        assert ddb.get_item(TableName=table, Key={"pk": {"S": "k"}})["Item"]["link"] == {"S": link}
        # SNS's notification keeps the URLs SNS writes (message content, not the endpoint's).
        sns = client("sns", plane.endpoint, "us-east-1")
        topic = sns.create_topic(Name=f"{prefix}-topic")["TopicArn"]
        source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=source_arn)
        sns.publish(TopicArn=topic, Message=aws_text)
        (notified,) = sqs.receive_message(QueueUrl=source)["Messages"]
        document = json.loads(notified["Body"])
        assert document["Message"] == aws_text
        assert document["SigningCertURL"].startswith("https://sns.us-east-1.amazonaws.com/")
