"""Poison from an SQS handler lands in a real (moto) DLQ with its reason."""

import json

from pydantic import BaseModel

from eventweave.handlers import PermanentError, Settings, SqsHandler
from tests.factories import sqs_event, sqs_record


class Order(BaseModel):
    order_id: str
    amount: int


class Charge(SqsHandler[Order]):
    def handle(self, order: Order, ctx) -> None:
        if order.amount < 0:
            raise PermanentError(f"order {order.order_id} has a negative amount")


def test_poison_reaches_the_dlq(aws, lambda_context):
    sqs = aws("sqs")
    dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    handler = Charge.lambda_handler(settings=Settings(dlq=dlq))
    event = sqs_event(
        sqs_record({"order_id": "a", "amount": 5}, message_id="ok"),
        sqs_record({"order_id": "b", "amount": -1}, message_id="neg"),
        sqs_record("not json", message_id="garbage"),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    docs = {json.loads(m["Body"])["recordId"]: (json.loads(m["Body"]), m["MessageAttributes"]) for m in messages}
    assert set(docs) == {"neg", "garbage"}
    assert docs["neg"][0]["reason"] == "permanent-error"
    assert docs["garbage"][0]["reason"] == "validation-error"
    assert docs["garbage"][0]["record"]["body"] == "not json"
    assert docs["neg"][1]["eventweave-reason"]["StringValue"] == "permanent-error"
