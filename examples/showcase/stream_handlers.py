"""Small handlers for the stream, event-bus and asynchronous patterns (StreamProcessor, EventBusRouter, AsyncFunction).

Each class has its module-level entry (``name = Class.lambda_handler()``): that is what Lambda loads and how the
constructs find the handler's module.
"""

from __future__ import annotations

from pydantic import BaseModel

from eventweave.handlers import (
    AsyncInvocationRecord,
    DestinationHandler,
    DynamoDBRecordContext,
    DynamoDBStreamHandler,
    EventBridgeHandler,
    EventBridgeRecordContext,
    InvokeHandler,
    KinesisHandler,
    KinesisRecordContext,
    RecordContext,
    SqsHandler,
    SqsRecordContext,
    StreamFailureHandler,
    StreamFailureRecord,
    on_event,
)

# -- Kinesis: page views ---------------------------------------------------------------------------------------------


class PageView(BaseModel):
    page: str
    visitor: str


class CountPageViews(KinesisHandler[PageView]):
    """Stream processor (Kinesis): counts views per page, in order per shard."""

    def handle(self, view: PageView, ctx: KinesisRecordContext) -> None:
        self.logger.info("viewed", extra={"page": view.page, "shard": ctx.shard_id})


count_page_views = CountPageViews.lambda_handler()


class ReplayPageViewFailures(StreamFailureHandler):
    """Reads back the records of a batch the page-view processor gave up on, while the stream still has them."""

    def handle(self, failure: StreamFailureRecord, ctx: SqsRecordContext) -> None:
        records = self.fetch_records(failure, limit=1000)
        self.logger.error("discarded batch", extra={"shard": failure.batch_info.shard_id, "records": len(records)})


replay_page_view_failures = ReplayPageViewFailures.lambda_handler()


# -- DynamoDB Streams: account projections ---------------------------------------------------------------------------


class Account(BaseModel):
    id: str
    owner: str
    balance: int = 0


class ProjectAccounts(DynamoDBStreamHandler[Account]):
    """Stream processor (DynamoDB): keeps a read model of accounts up to date."""

    def on_insert(self, new: Account, ctx: DynamoDBRecordContext) -> None:
        self.logger.info("opened", extra={"account": new.id})

    def on_modify(self, new: Account | None, old: Account | None, ctx: DynamoDBRecordContext) -> None:
        if new is not None and old is not None:
            self.logger.info("balance", extra={"account": new.id, "delta": new.balance - old.balance})


project_accounts = ProjectAccounts.lambda_handler()


# -- EventBridge: order events ---------------------------------------------------------------------------------------


class OrderEvent(BaseModel):
    order_id: str
    amount: int = 0


class OrderCancelled(BaseModel):
    order_id: str
    reason: str = "customer"


class Shipping(EventBridgeHandler[OrderEvent]):
    """Rule target (direct): reserves stock for placed orders and releases it for cancelled ones."""

    @on_event("OrderPlaced")
    def placed(self, order: OrderEvent, ctx: EventBridgeRecordContext) -> None:
        self.logger.info("reserve", extra={"order_id": order.order_id, "source": ctx.event_source})

    @on_event("OrderCancelled")
    def cancelled(self, order: OrderCancelled, ctx: EventBridgeRecordContext) -> None:
        self.logger.info("release", extra={"order_id": order.order_id, "reason": order.reason})


shipping = Shipping.lambda_handler()


class Invoicing(SqsHandler[OrderEvent]):
    """Rule target buffered by a queue: the EventBridge event in each message body is unwrapped to its ``detail``."""

    @on_event("OrderPlaced")
    def placed(self, order: OrderEvent, ctx: SqsRecordContext) -> None:
        self.logger.info("invoice", extra={"order_id": order.order_id, "amount": order.amount})


invoicing = Invoicing.lambda_handler()


# -- Asynchronous invocation with destinations -----------------------------------------------------------------------


class ResizeRequest(BaseModel):
    key: str
    width: int


class Resize(InvokeHandler[ResizeRequest]):
    """Asynchronously invoked: its return value goes to the on-success destination, failures to on-failure."""

    def handle(self, request: ResizeRequest, ctx: RecordContext) -> dict[str, str]:
        return {"thumbnail": f"thumbnails/{request.width}/{request.key}"}


resize = Resize.lambda_handler()


class ResizeDone(DestinationHandler[ResizeRequest]):
    """A Lambda function as on-success destination: receives Lambda's invocation record."""

    def handle(self, record: AsyncInvocationRecord[ResizeRequest], ctx: RecordContext) -> None:
        self.logger.info("resized", extra={"key": record.request_payload.key, "result": record.response_payload})


resize_done = ResizeDone.lambda_handler()


class ResizeFailures(SqsHandler[AsyncInvocationRecord[ResizeRequest]]):
    """Consumer of the on-failure queue: one message per invocation Lambda gave up on."""

    def handle(self, record: AsyncInvocationRecord[ResizeRequest], ctx: SqsRecordContext) -> None:
        self.logger.error("resize failed", extra={"key": record.request_payload.key, "error": record.error_message})


resize_failures = ResizeFailures.lambda_handler()
