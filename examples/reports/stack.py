"""ReportsStack: report requests fan out into chunk tasks, workers sum them, one aggregation writes the report."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from eventweave.constructs import EventFunction
from eventweave.handlers import ENV
from eventweave.patterns import FanOutFanIn, JobCompletion

from .handlers.report_status import ReportStatus
from .handlers.split_report import SplitReport
from .handlers.sum_chunk import SumChunk
from .handlers.write_report import WriteReport
from .store import REPORTS_TABLE_ENV


class ReportsStack(Stack):
    """The reports service: ``FanOutFanIn`` (ventilator, worker, aggregator sink), a ``reports`` table and a status
    function.

    Example::

        app = App()
        ReportsStack(app, "EventweaveReports")
        app.synth()

    :param chunk_timeout: the worker's timeout. The task queue's visibility timeout is 6x this, so it is also how
        long a failed chunk waits before its retry. Default: 3 seconds (a chunk of a few thousand lines sums in
        milliseconds; a retry comes back after 18 s).
    :param max_concurrency: concurrent worker invocations. Default: 10.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        chunk_timeout: Duration | None = None,
        max_concurrency: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.reports = dynamodb.Table(
            self,
            "Reports",
            partition_key=dynamodb.Attribute(name="report_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,  # the reports are the service's product
        )
        self.build = FanOutFanIn(
            self,
            "Build",
            ventilator=SplitReport,
            worker=SumChunk,
            completion=JobCompletion.invoke(WriteReport),
            worker_timeout=chunk_timeout or Duration.seconds(3),
            max_concurrency=max_concurrency,
        )
        assert self.build.sink is not None and self.build.task_dead_letter_queue is not None
        assert self.build.failure_queue is not None
        table = self.reports.table_name

        worker = self.build.worker.function
        worker.add_environment(REPORTS_TABLE_ENV, table)
        self.reports.grant(worker, "dynamodb:UpdateItem")  # mark_failed, count_duplicate

        aggregator = self.build.sink.function
        aggregator.add_environment(REPORTS_TABLE_ENV, table)  # the pattern gives it the job table (FanIn.results)
        self.reports.grant(aggregator, "dynamodb:UpdateItem")

        self.status = EventFunction(
            self,
            "Status",
            handler=ReportStatus,
            timeout=Duration.seconds(10),
            environment={REPORTS_TABLE_ENV: table, ENV.JOB_TABLE: self.build.job_table.table_name},
        )
        # eventweave's reasons (eventweave.constructs.nag.REASONS) cover asynchronously invoked functions only.
        Validations.of(self.status.function).acknowledge(
            Acknowledgment(
                id="Serverless-LambdaDLQ",
                reason="invoked synchronously only (RequestResponse): the caller gets the error; a dead-letter queue "
                "applies to asynchronous invocations, which this read-only query function never receives",
            )
        )
        self.build.grant_read_status(self.status.function)
        self.reports.grant(self.status.function, "dynamodb:GetItem")

        outputs = {
            "StartFunction": self.build.ventilator.function.function_name,
            "StatusFunction": self.status.function.function_name,
            "AggregatorFunction": aggregator.function_name,
            "ReportsTable": table,
            "JobTable": self.build.job_table.table_name,
            "TaskQueueUrl": self.build.task_queue.queue_url,
            "TaskDlqUrl": self.build.task_dead_letter_queue.queue_url,
            "FailureQueueUrl": self.build.failure_queue.queue_url,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
