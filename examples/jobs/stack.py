"""JobsStack: the jobs API as one ``DecoupledInvocation`` (Function URL front, requests table with TTL, worker)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from eventweave.patterns import DecoupledInvocation, RequestApi

from .handlers.front import JobsFront
from .handlers.word_stats import CountWords

WORKER_TIMEOUT = Duration.seconds(2)
"""Covers the longest simulated work (``MAX_WORK_SECONDS``, 1 s) plus DynamoDB writes. The task queue's visibility
timeout is 6x this, so a transiently failed job is delivered again after about 12 seconds."""
DEADLINE = Duration.minutes(5)
"""How long a client polls: after it, an unfinished job answers 410 and the worker no longer starts it."""
RETENTION = Duration.days(1)
"""How long a job's record (and result) lives: ``expires_at``, which DynamoDB TTL deletes after."""


class JobsStack(Stack):
    """The jobs API: ``POST /jobs`` -> 202 + status URL; a worker counts words behind a queue; ``GET /jobs/{id}``.

    Example::

        app = App()
        JobsStack(app, "EventweaveJobs")
        app.synth()
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.jobs = DecoupledInvocation(
            self,
            "Jobs",
            worker=CountWords,
            front=JobsFront,
            api=RequestApi.FUNCTION_URL,  # IAM-authenticated; the local cloud serves it on localhost
            deadline=DEADLINE,
            retention=RETENTION,
            # One job per invocation: a slow job must not eat the timeout of the jobs batched behind it.
            batch_size=1,
            worker_timeout=WORKER_TIMEOUT,
        )
        # Who may call the API on AWS: assume this role and sign requests with SigV4 (the URL uses AWS_IAM auth).
        self.client_role = iam.Role(
            self,
            "Client",
            assumed_by=iam.AccountRootPrincipal(),
            description="Submits and polls jobs through the jobs API's Function URL",
        )
        self.jobs.grant_invoke(self.client_role)

        assert self.jobs.dead_letter_queue is not None  # the pattern's own queue always has one
        outputs = {
            "JobsUrl": self.jobs.url,
            "JobsTableName": self.jobs.requests_table.table_name,
            "TaskQueueUrl": self.jobs.task_queue.queue_url,
            "DeadLetterQueueUrl": self.jobs.dead_letter_queue.queue_url,
            "FrontFunctionName": self.jobs.front.function.function_name,
            "WorkerFunctionName": self.jobs.worker.function.function_name,
            "ClientRoleArn": self.client_role.role_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
