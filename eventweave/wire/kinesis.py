"""Kinesis records of a Lambda event: ``kinesis.data`` is the producer's bytes, base64-encoded.

Example::

    record = kinesis_record(b"\\x08\\x96\\x01", sequence_number="4959...", stream_arn=arn)
    decode_data(record)   # b'\\x08\\x96\\x01'
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

from .payloads import UndecodablePayload

__all__ = ["KinesisDataError", "decode_data", "kinesis_record"]


class KinesisDataError(UndecodablePayload):
    """``kinesis.data`` is missing or is not base64."""


def kinesis_record(
    data: bytes,
    *,
    sequence_number: str,
    stream_arn: str,
    partition_key: str = "pk-1",
    shard_id: str = "shardId-000000000000",
    arrival: float | None = None,
    invoke_identity_arn: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """One Kinesis record as Lambda delivers it."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"Kinesis data is bytes; encode {type(data).__name__} first")
    parts = stream_arn.split(":")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(bytes(data)).decode(),
            "approximateArrivalTimestamp": arrival if arrival is not None else round(time.time(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": invoke_identity_arn or f"arn:aws:iam::{parts[4]}:role/lambda-role",
        "awsRegion": region or parts[3],
        "eventSourceARN": stream_arn,
    }


def decode_data(record: Mapping[str, Any]) -> bytes:
    """The producer's bytes of a Kinesis record; :class:`KinesisDataError` when ``kinesis.data`` is not base64."""
    kinesis = record.get("kinesis")
    data = kinesis.get("data") if isinstance(kinesis, Mapping) else None
    if not isinstance(data, str):
        raise KinesisDataError("the record has no kinesis.data text")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise KinesisDataError(f"kinesis.data is not valid base64 ({error})") from None
