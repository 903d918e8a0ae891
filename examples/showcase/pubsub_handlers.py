"""Small handlers for the pub-sub patterns (TopicFanOut, TopicFunction, RuleFunction), used by the construct tests.

One module-level entry per handler (``name = Handler.lambda_handler()``): the CDK patterns find it there and point
Lambda at it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from eventweave.handlers import (
    EventBridgeHandler,
    EventBridgeRecordContext,
    SnsHandler,
    SnsRecordContext,
    SqsFifoHandler,
    SqsHandler,
    SqsRecordContext,
    on_event,
)


class OrderEvent(BaseModel):
    order_id: str
    amount: int
    region: str = "eu"


class ReserveStock(SqsHandler[OrderEvent]):
    """Fan-out subscriber: reserves stock for every order published on the topic."""

    def handle(self, order: OrderEvent, ctx: SqsRecordContext) -> None:
        self.logger.info("reserved", extra={"order_id": order.order_id})


reserve_stock = ReserveStock.lambda_handler()


class FlagLargeOrder(SqsHandler[OrderEvent]):
    """Fan-out subscriber behind a message-body filter policy: only large orders reach it."""

    def handle(self, order: OrderEvent, ctx: SqsRecordContext) -> None:
        self.logger.warning("large order", extra={"order_id": order.order_id, "amount": order.amount})


flag_large_order = FlagLargeOrder.lambda_handler()


class PriceChanged(BaseModel):
    sku: str
    price: int


class ApplyPriceChange(SqsFifoHandler[PriceChanged]):
    """FIFO fan-out subscriber: price changes of one SKU (message group) apply in order."""

    def handle(self, change: PriceChanged, ctx: SqsRecordContext) -> None:
        self.logger.info("price", extra={"sku": change.sku, "price": change.price, "group": ctx.group_id})


apply_price_change = ApplyPriceChange.lambda_handler()


class EmailReceipt(SnsHandler[OrderEvent]):
    """Direct SNS subscriber (asynchronous invocation)."""

    def handle(self, order: OrderEvent, ctx: SnsRecordContext) -> None:
        self.logger.info("receipt", extra={"order_id": order.order_id, "subject": ctx.subject})


email_receipt = EmailReceipt.lambda_handler()


class OrderPlaced(BaseModel):
    order_id: str
    amount: int


class OrderCancelled(BaseModel):
    order_id: str
    reason: str = ""


class TrackOrders(EventBridgeHandler[Any]):
    """EventBridge rule target dispatching on ``detail-type``: the rule's pattern is derived from these methods."""

    @on_event("OrderPlaced")
    def placed(self, order: OrderPlaced, ctx: EventBridgeRecordContext) -> None:
        self.logger.info("placed", extra={"order_id": order.order_id})

    @on_event("OrderCancelled")
    def cancelled(self, order: OrderCancelled, ctx: EventBridgeRecordContext) -> None:
        self.logger.info("cancelled", extra={"order_id": order.order_id, "reason": order.reason})


track_orders = TrackOrders.lambda_handler()


class AuditEvent(EventBridgeHandler[dict[str, Any]]):
    """EventBridge target with a single ``handle``: it declares no detail-types, so its rule needs a pattern."""

    def handle(self, detail: dict[str, Any], ctx: EventBridgeRecordContext) -> None:
        self.logger.info("audit", extra={"detail_type": ctx.detail_type, "source": ctx.event_source})


audit_event = AuditEvent.lambda_handler()
