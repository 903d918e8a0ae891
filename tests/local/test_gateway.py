"""The data plane keeps DynamoDB's per-request atomicity under concurrent clients (moto alone does not)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane


def test_concurrent_counter_updates_are_not_lost():
    table = f"counters-{uuid.uuid4().hex[:8]}"  # moto's state outlives a data plane within the process
    with DataPlane() as plane:
        ddb = client("dynamodb", plane.endpoint, "us-east-1")
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def add(_: int) -> None:
            own = client("dynamodb", plane.endpoint, "us-east-1")
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
