"""EventFunction: a Lambda function running an eventweave handler, secure and operable by default."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.handlers.base import BaseHandler
from eventweave.handlers.settings import DEFAULT_MAX_HOPS, ENV

from .bundling import bundle, pinned_requirements, runtime_excludes, source_hash
from .handler_ref import HandlerRef
from .nag import acknowledge
from .tables import IdempotencyTable

__all__ = ["DEFAULT_RUNTIME", "EventFunction"]

DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14
"""The latest Python runtime: cdk-nag's AwsSolutions-L1 and Serverless-LambdaLatestVersion flag anything older."""

_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


class EventFunction(Construct):
    """A Lambda function for an eventweave handler class.

    Defaults: Python 3.14 (the latest Lambda runtime) on arm64, 256 MB, 30 s timeout, active tracing, a log group
    kept for one month, a role whose only inline statements are the ones this function needs (no AWS managed
    policies), recursive-loop detection set to TERMINATE, Powertools and eventweave environment set from the
    handler's contract. Code is packaged without Docker (see :mod:`eventweave.constructs.bundling`).

    Example::

        fn = EventFunction(self, "Charge", handler=Charge, dead_letter=dlq, timeout=Duration.seconds(20))
        fn.function        # the aws_lambda.Function
        fn.idempotency_table  # created because Charge declares idempotency

    :param handler: the handler class; its module defines the entry (``handler = Charge.lambda_handler()``).
    :param dead_letter: where the handler sends poison (``EVENTWEAVE_DLQ``); also the function's own dead-letter
        target for asynchronous invocations, unless it is FIFO (Lambda takes standard ones only). Default: none;
        poison is then retried until the source's own redrive policy or failure destination takes it.
    :param idempotency_table: table for idempotent handlers. Default: a new :class:`IdempotencyTable` when the handler
        declares ``idempotency``, none otherwise.
    :param max_hops: recursion limit (``EVENTWEAVE_MAX_HOPS``, always set). Default: the handler's ``max_hops`` or 16.
    :param memory_size: MB. Default: 256.
    :param timeout: Default: 30 seconds.
    :param reserved_concurrency: Default: none (unreserved account concurrency).
    :param log_retention: Default: one month.
    :param tracing: Default: ``Tracing.ACTIVE``.
    :param architecture: Default: ``Architecture.ARM_64``.
    :param runtime: Default: Python 3.14.
    :param environment: extra environment variables. Default: none.
    :param service_name: ``POWERTOOLS_SERVICE_NAME``. Default: the construct id.
    :param metrics_namespace: ``POWERTOOLS_METRICS_NAMESPACE``. Default: ``eventweave``.
    :param requirements: extra pip requirements of the handler's code. Default: none.
    :param code: replace the packaged code entirely. Default: the handler's package + eventweave runtime + deps.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        dead_letter: sqs.IQueue | sns.ITopic | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        max_hops: int | None = None,
        memory_size: int = 256,
        timeout: Duration | None = None,
        reserved_concurrency: int | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        tracing: lambda_.Tracing = lambda_.Tracing.ACTIVE,
        architecture: lambda_.Architecture | None = None,
        runtime: lambda_.Runtime | None = None,
        environment: dict[str, str] | None = None,
        service_name: str | None = None,
        metrics_namespace: str = "eventweave",
        requirements: tuple[str, ...] = (),
        code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.handler_ref = HandlerRef.of(handler)
        self.contract = self.handler_ref.contract
        architecture = architecture or lambda_.Architecture.ARM_64
        runtime = runtime or DEFAULT_RUNTIME
        self.timeout = timeout or Duration.seconds(30)

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {self.node.path}",
        )
        # Only this function's own log group; the managed AWSLambdaBasicExecutionRole would allow every group.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )

        env = {
            ENV.SERVICE: service_name or id,
            ENV.NAMESPACE: metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        # Always in the template, so the recursion guard is visible to whoever reads it (eventweave check's
        # Eventweave-RecursiveLoop counts it as the loop guard Lambda does not give DynamoDB Streams and Kinesis).
        hops = max_hops if max_hops is not None else handler.max_hops
        env[ENV.MAX_HOPS] = str(hops if hops is not None else DEFAULT_MAX_HOPS)
        env.update(environment or {})

        # The poison destination doubles as the function's own dead-letter target for asynchronous invocations, unless
        # it is FIFO: Lambda's function dead-letter queue takes standard queues and topics only (a FIFO poison queue
        # belongs to a FIFO event source, whose synchronous invocations never use a function dead-letter queue).
        dlq_topic: sns.ITopic | None = dead_letter if hasattr(dead_letter, "topic_arn") else None  # type: ignore[assignment]
        dlq_queue: sqs.IQueue | None = None if dlq_topic is not None else dead_letter  # type: ignore[assignment]
        if dead_letter is not None and dead_letter.fifo:
            dlq_topic = dlq_queue = None
        self.function = lambda_.Function(
            self,
            "Function",
            code=code or self._code(architecture, runtime, requirements),
            handler=self.handler_ref.entry,
            runtime=runtime,
            architecture=architecture,
            memory_size=memory_size,
            timeout=self.timeout,
            tracing=tracing,
            log_group=self.log_group,
            role=self.role,
            environment=env,
            reserved_concurrent_executions=reserved_concurrency,
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            dead_letter_queue=dlq_queue,
            dead_letter_topic=dlq_topic,
            description=f"eventweave {self.contract.source} handler {handler.__qualname__}",
        )
        if code is None:
            # What the bundle holds besides the handler's package: the local cloud lets the function import exactly
            # these (and their dependencies) from the host when it runs unbundled, as Lambda would.
            function_resource = self.function.node.default_child
            assert isinstance(function_resource, CfnResource)
            function_resource.add_metadata("eventweave:requirements", pinned_requirements(requirements))
        if tracing != lambda_.Tracing.DISABLED:
            acknowledge(self.role, "xray")
        if dead_letter is not None and dead_letter.fifo:
            acknowledge(self.function, "fifo-poison-not-function-dlq")

        self.dead_letter = dead_letter
        if dead_letter is not None:
            self.use_dead_letter(dead_letter)

        self.idempotency_table: dynamodb.ITable | None = idempotency_table
        if self.contract.idempotent and self.idempotency_table is None:
            self.idempotency_table = IdempotencyTable(self, "Idempotency").table
        if self.idempotency_table is not None:
            self.function.add_environment(ENV.IDEMPOTENCY_TABLE, self.idempotency_table.table_name)
            self.idempotency_table.grant(
                self.function,
                "dynamodb:BatchGetItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            )

    def use_dead_letter(self, dead_letter: sqs.IQueue | sns.ITopic) -> None:
        """Send poison to ``dead_letter`` (sets ``EVENTWEAVE_DLQ`` and grants exactly the send/publish action)."""
        self.dead_letter = dead_letter
        if hasattr(dead_letter, "topic_arn"):
            topic: sns.ITopic = dead_letter  # type: ignore[assignment]
            self.function.add_environment(ENV.DLQ, topic.topic_arn)
            topic.grant_publish(self.function)
        else:
            queue: sqs.IQueue = dead_letter
            self.function.add_environment(ENV.DLQ, queue.queue_url)
            if queue.encryption_master_key is None:
                queue.grant_send_messages(self.function)
            else:
                # grant_send_messages would add kms:Encrypt, kms:ReEncrypt* and kms:GenerateDataKey*
                # (AwsSolutions-IAM5); sending to a KMS-encrypted queue needs exactly these two.
                queue.grant(self.function, "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
                queue.encryption_master_key.grant(self.function, "kms:GenerateDataKey", "kms:Decrypt")

    def _code(
        self, architecture: lambda_.Architecture, runtime: lambda_.Runtime, extra: tuple[str, ...]
    ) -> lambda_.Code:
        ref = self.handler_ref
        platform = _PLATFORMS[architecture.name]
        python_version = runtime.name.removeprefix("python")
        requirements = pinned_requirements(extra)
        if not Stack.of(self).bundling_required:
            # `cdk synth --exclusively` / tests skip bundling, as CDK's own bundled assets do: the template still
            # gets the hash the full bundle would have.
            asset_hash = source_hash(ref.code_root, ref.package, requirements, f"{platform}/{python_version}")
            source = ref.code_root / ref.package
            exclude = ["**/__pycache__", "**/tests", "*.pyc"]
            if ref.package == "eventweave":
                # A built-in handler (e.g. RequestFront) ships the runtime only: no CDK side, local cloud or plugin.
                return lambda_.Code.from_asset(
                    str(source),
                    asset_hash=asset_hash,
                    asset_hash_type=_custom_hash(),
                    exclude=[*exclude, *runtime_excludes()],
                    ignore_mode=_git_ignore_mode(),
                )
            return lambda_.Code.from_asset(
                str(source if source.is_dir() else ref.code_root),
                asset_hash=asset_hash,
                asset_hash_type=_custom_hash(),
                exclude=exclude,
            )
        directory, asset_hash = bundle(
            ref.code_root, ref.package, requirements=requirements, platform=platform, python_version=python_version
        )
        return lambda_.Code.from_asset(
            str(directory), asset_hash=asset_hash, asset_hash_type=_custom_hash(), exclude=[".eventweave-asset"]
        )


def _custom_hash() -> Any:
    from aws_cdk import AssetHashType

    return AssetHashType.CUSTOM


def _git_ignore_mode() -> Any:
    from aws_cdk import IgnoreMode

    return IgnoreMode.GIT  # runtime_excludes() anchors its patterns at the package ("/local"), as .gitignore does
