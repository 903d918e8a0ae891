"""Kinesis and DynamoDB Streams -> Lambda: record shapes, bisecting, retries, on-failure records, checkpoints."""

from __future__ import annotations

import base64
import json

from .conftest import Inbox, Observations, body, key


def put_records(stack, stream_output: str, run: str, payloads: list[str]) -> list[dict]:
    response = stack.client("kinesis").put_records(
        StreamName=stack.outputs[stream_output],
        Records=[{"Data": payload.encode(), "PartitionKey": run} for payload in payloads],
    )
    assert response.get("FailedRecordCount", 0) == 0, response
    return list(response["Records"])


def sequences(invocation) -> list[str]:
    return [str(outcome["id"]) for outcome in invocation.outcomes]


def ok_keys(invocations) -> set[str]:
    return {o["key"] for i in invocations for o in i.outcomes if o["outcome"] == "ok" and o.get("key")}


def test_kinesis_record_shape(conformance, observed: Observations, run, patience):
    """The Kinesis record a function receives.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-kinesis.md
    Notes: aws-semantics.md §2, "Kinesis record"
    Expected: kinesis {kinesisSchemaVersion "1.0", partitionKey, sequenceNumber, data (base64),
    approximateArrivalTimestamp (a number)}, eventSource "aws:kinesis", eventVersion "1.0",
    eventID "<shardId>:<sequenceNumber>", eventName "aws:kinesis:record", invokeIdentityArn, awsRegion and
    eventSourceARN (the stream).
    """
    text = body(run, "r")
    [put] = put_records(conformance, "CheckpointStreamName", run, [text])
    invocation = observed.wait_for(run, lambda found: found[:1], timeout=patience["fast"], what="the record")[0]
    record = next(r for r in invocation.records if r["kinesis"]["sequenceNumber"] == put["SequenceNumber"])
    kinesis = record["kinesis"]
    assert kinesis["kinesisSchemaVersion"] == "1.0"
    assert kinesis["partitionKey"] == run
    assert base64.b64decode(kinesis["data"]).decode() == text
    assert isinstance(kinesis["approximateArrivalTimestamp"], int | float)
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventVersion"] == "1.0"
    assert record["eventID"] == f"{put['ShardId']}:{put['SequenceNumber']}"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::")
    assert record["awsRegion"] == conformance.region
    assert record["eventSourceARN"] == conformance.outputs["CheckpointStreamArn"]


def test_kinesis_function_error_is_bisected_then_the_record_goes_to_on_failure(
    conformance, observed: Observations, run, patience
):
    """A function error on a Kinesis batch is bisected down to the failing record, retried MaximumRetryAttempts
    times, then its on-failure record is sent and the shard goes on.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
    Notes: aws-semantics.md §2, "Retry semantics" and "OnFailure record"
    Expected: with BisectBatchOnFunctionError and MaximumRetryAttempts 2, a batch with one always-failing record is
    split in halves (splits use no retries) until that record is alone; alone it runs 1 + 2 times; then the
    on-failure queue gets {requestContext {condition "RetryAttemptsExhausted", functionArn, approximateInvokeCount},
    responseContext {functionError "Unhandled"}, version "1.0", KinesisBatchInfo {shardId, startSequenceNumber =
    endSequenceNumber = that record, batchSize 1, streamArn, approximateArrivalOf...}}; the other records are handled.
    """
    names = [f"r{i}" for i in range(5)]
    puts = put_records(conformance, "BisectStreamName", run, [body(run, n, poison=(n == "r2")) for n in names])
    bad = puts[2]["SequenceNumber"]
    inbox = Inbox(conformance, conformance.outputs["BisectFailuresUrl"], bad)
    record = inbox.wait(timeout=patience["fast"], what="the on-failure record of the failing record")[0]["body"]
    invocations = observed.wait_for(
        run,
        lambda found: found if ok_keys(found) >= {key(run, n) for n in names if n != "r2"} else None,
        timeout=patience["fast"],
        what="the other four records handled",
    )
    info = record["KinesisBatchInfo"]
    assert info["shardId"] == puts[2]["ShardId"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad
    assert info["batchSize"] == 1
    assert info["streamArn"] == conformance.outputs["BisectStreamArn"]
    assert "approximateArrivalOfFirstRecord" in info and "approximateArrivalOfLastRecord" in info
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert ":function:" in record["requestContext"]["functionArn"]
    assert "approximateInvokeCount" in record["requestContext"]
    assert record["responseContext"]["functionError"] == "Unhandled"
    alone = [i for i in invocations if sequences(i) == [bad]]
    assert len(alone) == 3, f"the failing record ran alone {len(alone)} times"
    assert any(len(sequences(i)) > 1 and bad in sequences(i) for i in invocations), "the batch was never bisected"


def test_kinesis_partial_batch_response_checkpoints_at_the_lowest_reported_sequence_number(
    conformance, observed: Observations, run, patience
):
    """A Kinesis partial batch response checkpoints at the lowest reported sequence number and retries from there.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
    Notes: aws-semantics.md §2, "Partial batch response (streams)"
    Expected: when the response lists several sequence numbers, Lambda checkpoints at the lowest and retries every
    record from that point on, the ones that succeeded included; earlier records are not delivered again.
    """
    names = [f"r{i}" for i in range(5)]
    payloads = [body(run, n, **({"fail": 1, "how": "partial"} if n in ("r1", "r3") else {})) for n in names]
    puts = put_records(conformance, "CheckpointStreamName", run, payloads)
    seqs = [p["SequenceNumber"] for p in puts]
    invocations = observed.wait_for(
        run,
        lambda found: found if ok_keys(found) >= {key(run, n) for n in names} else None,
        timeout=patience["fast"],
        what="all five records handled",
    )
    failing = next(n for n, i in enumerate(invocations) if any(o["outcome"] == "failed" for o in i.outcomes))
    reported = [o["id"] for o in invocations[failing].outcomes if o["outcome"] == "failed"]
    batch = sequences(invocations[failing])
    lowest = min(batch.index(s) for s in reported)
    retry = sequences(invocations[failing + 1])
    assert retry[: len(batch) - lowest] == batch[lowest:], f"batch {batch}, reported {reported}, retried {retry}"
    assert seqs[0] not in retry


def ddb_records(invocations, run: str) -> list[dict]:
    return [r for i in invocations for r in i.records if run in json.dumps(r["dynamodb"].get("Keys"))]


def change_item(stack, table_output: str, pk: str) -> None:
    ddb = stack.client("dynamodb")
    table = stack.outputs[table_output]
    ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "v": {"N": "1"}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": pk}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    ddb.delete_item(TableName=table, Key={"pk": {"S": pk}})


def check_common(stack, record: dict, stream_output: str, view: str, pk: str) -> None:
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == stack.outputs[stream_output]
    assert record["awsRegion"] == stack.region
    assert record["eventID"] and record["eventVersion"]
    change = record["dynamodb"]
    assert change["Keys"] == {"pk": {"S": pk}}
    assert change["StreamViewType"] == view
    assert isinstance(change["SequenceNumber"], str)
    assert isinstance(change["SizeBytes"], int)
    assert isinstance(change["ApproximateCreationDateTime"], int | float)


def test_dynamodb_stream_records_with_new_and_old_images(conformance, observed: Observations, run, patience):
    """DynamoDB stream records for INSERT, MODIFY and REMOVE with the NEW_AND_OLD_IMAGES view.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-ddb.md
    Notes: aws-semantics.md §2, "DynamoDB record" (partly unconfirmed there)
    Expected: one record per change, in order: INSERT with NewImage and no OldImage, MODIFY with both, REMOVE with
    OldImage and no NewImage; each with eventID, eventName, eventVersion, eventSource "aws:dynamodb", awsRegion,
    eventSourceARN (the table's stream) and dynamodb {ApproximateCreationDateTime, Keys, SequenceNumber, SizeBytes,
    StreamViewType}.
    """
    pk = f"{run}#1"
    change_item(conformance, "ImagesTableName", pk)
    records = observed.wait_for(
        run,
        lambda found: ddb_records(found, run) if len(ddb_records(found, run)) >= 3 else None,
        timeout=patience["fast"],
        what="the three stream records",
    )
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        check_common(conformance, record, "ImagesTableStreamArn", "NEW_AND_OLD_IMAGES", pk)
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {"pk": {"S": pk}, "v": {"N": "1"}} and "OldImage" not in insert
    assert modify["OldImage"] == {"pk": {"S": pk}, "v": {"N": "1"}}
    assert modify["NewImage"] == {"pk": {"S": pk}, "v": {"N": "2"}}
    assert remove["OldImage"] == {"pk": {"S": pk}, "v": {"N": "2"}} and "NewImage" not in remove


def test_dynamodb_stream_records_with_keys_only(conformance, observed: Observations, run, patience):
    """DynamoDB stream records with the KEYS_ONLY view carry keys and no images.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-ddb.md
    Notes: aws-semantics.md §2, "DynamoDB record" (partly unconfirmed there)
    Expected: INSERT, MODIFY and REMOVE records in order, each with Keys, StreamViewType "KEYS_ONLY" and neither
    NewImage nor OldImage.
    """
    pk = f"{run}#1"
    change_item(conformance, "KeysTableName", pk)
    records = observed.wait_for(
        run,
        lambda found: ddb_records(found, run) if len(ddb_records(found, run)) >= 3 else None,
        timeout=patience["fast"],
        what="the three stream records",
    )
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        check_common(conformance, record, "KeysTableStreamArn", "KEYS_ONLY", pk)
        assert "NewImage" not in record["dynamodb"] and "OldImage" not in record["dynamodb"]
