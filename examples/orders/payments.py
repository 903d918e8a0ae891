"""Billing's two collaborators: a sandbox payment provider and the ledger of charges (a DynamoDB table).

The provider stands in for a real one in test mode: the card number decides the outcome, as providers' test cards
do. The ledger is the service's own record of what it charged; its writes are conditional, so a charge recorded twice
would be refused and is visible as such.

Example::

    ledger = ChargeLedger("orders-charges")
    attempt = ledger.record_attempt("o-1", event_id=ctx.message_id)
    charge_id = SandboxPaymentProvider().charge(order, attempt=attempt)
    ledger.record_charge(order, charge_id)
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from eventweave.handlers.clients import client

from .models import OrderPlaced

__all__ = [
    "DECLINED",
    "UNAVAILABLE_ONCE",
    "VISA",
    "CardDeclinedError",
    "ChargeLedger",
    "ProviderUnavailableError",
    "SandboxPaymentProvider",
]

VISA = "4242424242424242"
"""Test card that is always charged."""
DECLINED = "4000000000000002"
"""Test card that is always declined: retrying cannot help."""
UNAVAILABLE_ONCE = "4000000000000119"
"""Test card whose first attempt per order finds the provider unavailable; the next attempt is charged."""


class CardDeclinedError(Exception):
    """The provider refused the card. Permanent: the same card will be refused again.

    Example::

        try:
            provider.charge(order, attempt=1)
        except CardDeclinedError as error:
            raise PermanentError(f"order {order.order_id}: {error}") from error   # poison, not retried
    """


class ProviderUnavailableError(ConnectionError):
    """The provider did not answer. Transient: the same request may succeed later.

    Example::

        provider.charge(order, attempt=1)   # raises it for UNAVAILABLE_ONCE: let it propagate, the record is retried
    """


class SandboxPaymentProvider:
    """A payment provider in test mode: outcomes are decided by the test card numbers above.

    ``attempt`` (1 for the first try of an order) only drives :data:`UNAVAILABLE_ONCE`; the order id is the
    provider-side idempotency key, so charging an order again returns the same charge id, as real providers do.

    Example::

        provider = SandboxPaymentProvider()
        provider.charge(order, attempt=1)   # "ch_5f2c...", or raises CardDeclinedError / ProviderUnavailableError
    """

    def charge(self, order: OrderPlaced, *, attempt: int) -> str:
        if order.card == DECLINED:
            raise CardDeclinedError(f"card ending {order.card[-4:]} was declined")
        if order.card == UNAVAILABLE_ONCE and attempt == 1:
            raise ProviderUnavailableError("payment provider unavailable")
        return "ch_" + hashlib.sha256(order.order_id.encode()).hexdigest()[:16]


class ChargeLedger:
    """The ``charges`` table: one item per order (partition key ``order_id``) with its attempts and its charge.

    ``attempts`` counts calls to the provider, retries included; ``event_ids`` holds the ids of the ``OrderPlaced``
    events that led to them, so a duplicate event that got through would show as a second id.

    Example::

        ledger = ChargeLedger(os.environ["CHARGES_TABLE"])
        ledger.record_attempt("o-1", event_id="6a7e...")   # 1, 2, ...
        ledger.record_charge(order, "ch_5f2c...")          # True once; False if the order was charged already
    """

    def __init__(self, table: str) -> None:
        self.table = table
        # Created now, in Lambda's init phase, so the first invocation does not pay for it within its timeout.
        self.dynamodb = client("dynamodb")

    def record_attempt(self, order_id: str, *, event_id: str) -> int:
        """Count one attempt to charge ``order_id``; return how many there have been, this one included."""
        response: Any = self.dynamodb.update_item(
            TableName=self.table,
            Key={"order_id": {"S": order_id}},
            UpdateExpression="ADD attempts :one, event_ids :event",
            ExpressionAttributeValues={":one": {"N": "1"}, ":event": {"SS": [event_id]}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["attempts"]["N"])

    def record_charge(self, order: OrderPlaced, charge_id: str) -> bool:
        """Record the charge of ``order``; ``False`` (and nothing written) if it was recorded before."""
        from botocore.exceptions import ClientError

        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"order_id": {"S": order.order_id}},
                UpdateExpression="SET charge_id = :id, amount = :amount, currency = :currency, charged_at = :at",
                ConditionExpression="attribute_not_exists(charge_id)",
                ExpressionAttributeValues={
                    ":id": {"S": charge_id},
                    ":amount": {"N": str(order.amount)},
                    ":currency": {"S": order.currency},
                    ":at": {"N": str(int(time.time()))},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
