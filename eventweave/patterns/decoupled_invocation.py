"""DecoupledInvocation: an HTTP front that answers 202 at once, a queue worker that does the work, a status to poll."""

from __future__ import annotations

import enum
import json
from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.function import EventFunction
from eventweave.constructs.queue import DEFAULT_MAX_RECEIVE_COUNT
from eventweave.coordination.requests import (
    DEADLINE_ENV,
    REQUESTS_TABLE_ENV,
    TASK_QUEUE_ENV,
    TTL_ENV,
    RequestFront,
    RequestWorker,
)
from eventweave.handlers.base import BaseHandler

from .queue_worker import QueueWorker

__all__ = ["DecoupledInvocation", "RequestApi"]

# Access log lines as JSON (cdk-nag's Serverless-APIGWStructuredLogging), one per request, with the caller.
_ACCESS_LOG = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.userArn",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """``IAccessLogSettings`` is a jsii interface, not a struct: Python has to implement it."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class RequestApi(enum.Enum):
    """The HTTP front door of a :class:`DecoupledInvocation`."""

    FUNCTION_URL = "function-url"
    """A Lambda function URL with IAM authentication (SigV4-signed requests): no extra resource, no extra cost."""
    HTTP_API = "http-api"
    """An API Gateway HTTP API: IAM (or your) authorizer per route, JSON access logs, stage throttling."""


class DecoupledInvocation(Construct):
    """Decoupled invocation: ``POST /requests`` answers 202 + ``Location`` at once, a worker does the work from a
    queue, ``GET /requests/{id}`` answers 202 until done, then 200 with the result (or 422 failed, 410 expired).

    The front is eventweave's :class:`RequestFront` (its own function, invoked synchronously), which stores a
    ``PENDING`` record (``created_at``, deadline, TTL) in the requests table and enqueues ``{"request_id", "body"}``;
    the worker (a :class:`RequestWorker` behind a :class:`QueueWorker`: durable queue, DLQ, partial batch responses)
    claims the request, validates the body against its model and records the outcome. A client gives up at
    ``created_at + deadline``: past it, an unfinished request answers 410 ``EXPIRED`` and the worker no longer starts
    it. Records are deleted by DynamoDB TTL after ``retention``.

    Example::

        summaries = DecoupledInvocation(self, "Summaries", worker=Summarize, deadline=Duration.minutes(5))
        summaries.grant_invoke(client_role)     # SigV4-signed calls to summaries.url
        summaries.url, summaries.requests_table, summaries.task_queue, summaries.worker.function

    :param worker: a ``RequestWorker`` subclass.
    :param front: the front's handler class. Default: :class:`RequestFront` (subclass it to change its base path).
    :param api: Default: ``RequestApi.FUNCTION_URL`` (IAM auth). ``RequestApi.HTTP_API`` builds an HTTP API.
    :param authorizer: HTTP API only: the routes' authorizer. Default: ``HttpIamAuthorizer`` (IAM, SigV4).
    :param throttle_rate: HTTP API only: steady requests per second for the stage. Default: 50.
    :param throttle_burst: HTTP API only: burst for the stage. Default: 100.
    :param deadline: how long a client waits for a result. Default: 15 minutes.
    :param retention: how long a request record (and its result) is kept; at least ``deadline``. Default: 1 day.
    :param requests_table: bring your own table (partition key ``id``, string; TTL ``expires_at``). Default: a new
        on-demand, encrypted table with point-in-time recovery, destroyed with the stack (records are transient).
    :param batch_size: Default: 10.
    :param max_concurrency: maximum concurrent worker invocations (2-1000). Default: no limit.
    :param max_receive_count: receives of a task before SQS moves it to the DLQ. Default: 5.
    :param worker_timeout: Default: 30 seconds.
    :param front_timeout: Default: 10 seconds (a PutItem and a SendMessage).
    :param worker_props: further :class:`EventFunction` options of the worker.
    :param front_props: further :class:`EventFunction` options of the front.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        worker: type[BaseHandler[Any, Any]],
        front: type[BaseHandler[Any, Any]] = RequestFront,
        api: RequestApi = RequestApi.FUNCTION_URL,
        authorizer: apigwv2.IHttpRouteAuthorizer | None = None,
        throttle_rate: int = 50,
        throttle_burst: int = 100,
        deadline: Duration | None = None,
        retention: Duration | None = None,
        requests_table: dynamodb.ITable | None = None,
        batch_size: int = 10,
        max_concurrency: int | None = None,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        worker_timeout: Duration | None = None,
        front_timeout: Duration | None = None,
        worker_props: dict[str, Any] | None = None,
        front_props: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        if not (isinstance(worker, type) and issubclass(worker, RequestWorker)):
            raise TypeError(
                f"{where}: worker must subclass eventweave.coordination.RequestWorker (implement work); got {worker!r}"
            )
        if not (isinstance(front, type) and issubclass(front, RequestFront)):
            raise TypeError(f"{where}: front must be eventweave.coordination.RequestFront or a subclass")
        if worker.contract().fifo:
            raise TypeError(f"{where}: {worker.__qualname__} is a FIFO handler; requests use a standard queue")
        if authorizer is not None and api is not RequestApi.HTTP_API:
            raise ValueError(f"{where}: authorizer applies to RequestApi.HTTP_API; a function URL uses IAM auth")
        deadline = deadline or Duration.minutes(15)
        retention = retention or Duration.days(1)
        if deadline.to_seconds() < 1:
            raise ValueError(f"{where}: deadline must be at least one second")
        if retention.to_seconds() < deadline.to_seconds():
            raise ValueError(
                f"{where}: retention ({retention.to_seconds():g} s) must not be shorter than the deadline "
                f"({deadline.to_seconds():g} s): records would vanish while clients still poll"
            )
        self.deadline = deadline
        self.retention = retention

        self.table: dynamodb.Table | None = None
        if requests_table is None:
            self.table = dynamodb.Table(
                self,
                "Requests",
                partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute="expires_at",
                removal_policy=RemovalPolicy.DESTROY,
            )
            requests_table = self.table
        self.requests_table: dynamodb.ITable = requests_table

        self.worker = QueueWorker(
            self,
            "Tasks",
            handler=worker,
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            max_receive_count=max_receive_count,
            timeout=worker_timeout,
            **(worker_props or {}),
        )
        self.task_queue: sqs.IQueue = self.worker.queue
        self.dead_letter_queue: sqs.IQueue | None = self.worker.dead_letter_queue
        self.worker.function.add_environment(REQUESTS_TABLE_ENV, requests_table.table_name)
        requests_table.grant(self.worker.function, "dynamodb:UpdateItem")  # claim, release, record the outcome

        # Invoked synchronously: its DeadLetterConfig (the task DLQ) only catches a stray asynchronous invocation.
        self.front = EventFunction(
            self,
            "Front",
            handler=front,
            dead_letter=self.dead_letter_queue,
            timeout=front_timeout or Duration.seconds(10),
            **(front_props or {}),
        )
        front_fn = self.front.function
        front_fn.add_environment(REQUESTS_TABLE_ENV, requests_table.table_name)
        front_fn.add_environment(TASK_QUEUE_ENV, self.task_queue.queue_url)
        front_fn.add_environment(DEADLINE_ENV, str(int(deadline.to_seconds())))
        front_fn.add_environment(TTL_ENV, str(int(retention.to_seconds())))
        requests_table.grant(front_fn, "dynamodb:PutItem", "dynamodb:GetItem")
        self.task_queue.grant_send_messages(front_fn)

        self.api = api
        self.base_path: str = front.base_path.rstrip("/")
        self.function_url: lambda_.FunctionUrl | None = None
        self.http_api: apigwv2.HttpApi | None = None
        self.stage: apigwv2.HttpStage | None = None
        self.access_logs: logs.LogGroup | None = None
        if api is RequestApi.FUNCTION_URL:
            self.function_url = front_fn.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
            self.url: str = self.function_url.url
        else:
            self.url = self._http_api(front_fn, authorizer, throttle_rate, throttle_burst)

    def _http_api(
        self,
        front_fn: lambda_.IFunction,
        authorizer: apigwv2.IHttpRouteAuthorizer | None,
        rate: int,
        burst: int,
    ) -> str:
        self.http_api = apigwv2.HttpApi(
            self, "Api", create_default_stage=False, description=f"Decoupled invocation front of {self.node.path}"
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=rate, burst_limit=burst),
            access_log_settings=_AccessLogs(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG, separators=(",", ":"))),
            ),
        )
        integration = integrations.HttpLambdaIntegration("Front", front_fn)
        route_authorizer = authorizer or authorizers.HttpIamAuthorizer()
        self.http_api.add_routes(
            path=self.base_path, methods=[apigwv2.HttpMethod.POST], integration=integration, authorizer=route_authorizer
        )
        self.http_api.add_routes(
            path=self.base_path + "/{id}",
            methods=[apigwv2.HttpMethod.GET],
            integration=integration,
            authorizer=route_authorizer,
        )
        url: str = self.stage.url
        return url

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to submit requests and poll them (SigV4-signed, IAM auth)."""
        if self.function_url is not None:
            return self.function_url.grant_invoke_url(grantee)
        assert self.http_api is not None
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[
                self.http_api.arn_for_execute_api("POST", self.base_path, "$default"),
                self.http_api.arn_for_execute_api("GET", self.base_path + "/*", "$default"),
            ],
        )
