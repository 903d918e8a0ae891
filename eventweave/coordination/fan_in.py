"""Fan-in: count tasks of a job down exactly once each, and tell exactly one caller that the job is complete.

Items in the job table (partition key ``pk``, sort key ``sk``, both strings; TTL attribute ``expires_at``)::

    pk = "JOB#<job id>", sk = "JOB"            total, remaining, status (RUNNING | COMPLETED), created_at, completed_at
    pk = "JOB#<job id>", sk = "TASK#<task id>" done_at, result (JSON, optional)

:meth:`FanIn.complete_task` writes the task marker (``attribute_not_exists``) and decrements ``remaining`` in one
transaction, so a duplicate delivery of the same task changes nothing. Completion is then *claimed* with a
conditional update (``remaining = 0 AND status = RUNNING``): exactly one caller wins it, and a caller that crashed after
the last decrement is covered because its redelivery (seen as a duplicate) claims it again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from eventweave.handlers.clients import client
from eventweave.handlers.errors import ConfigurationError, PermanentError
from eventweave.handlers.settings import Settings

__all__ = ["FanIn", "JobStatus", "TaskOutcome"]


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What :meth:`FanIn.complete_task` did: ``first_delivery`` is False for a duplicate; ``job_complete`` is True
    for exactly one call per job."""

    first_delivery: bool
    job_complete: bool


@dataclass(frozen=True, slots=True)
class JobStatus:
    job_id: str
    total: int
    remaining: int
    status: str
    created_at: int
    completed_at: int | None

    @property
    def done(self) -> int:
        return self.total - self.remaining


class FanIn:
    """Job counter for fan-out/fan-in on a DynamoDB table (``EVENTWEAVE_JOB_TABLE`` by default).

    Example::

        jobs = FanIn()
        jobs.start_job(report_id, total_tasks=len(chunks))             # ventilator
        outcome = jobs.complete_task(report_id, chunk.id, result=total)  # worker
        if outcome.job_complete:
            aggregate(jobs.results(report_id))                          # runs once per job
    """

    def __init__(self, table: str | None = None, *, ttl_seconds: int = 7 * 24 * 3600) -> None:
        table = table or Settings.from_env().job_table
        if not table:
            raise ConfigurationError(
                "FanIn needs a job table: pass table= or set EVENTWEAVE_JOB_TABLE (the fan-out/fan-in pattern sets it)"
            )
        self.table = table
        self.ttl_seconds = ttl_seconds

    def start_job(self, job_id: str, total_tasks: int) -> bool:
        """Create the job; ``False`` if it already exists with the same total (a retried ventilator)."""
        from botocore.exceptions import ClientError

        if total_tasks < 1:
            raise PermanentError(f"job {job_id} needs at least one task, got {total_tasks}")
        now = int(time.time())
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": f"JOB#{job_id}"},
                    "sk": {"S": "JOB"},
                    "total": {"N": str(total_tasks)},
                    "remaining": {"N": str(total_tasks)},
                    "status": {"S": "RUNNING"},
                    "created_at": {"N": str(now)},
                    "expires_at": {"N": str(now + self.ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            response: dict[str, Any] = dict(error.response)
            old: dict[str, Any] = response.get("Item") or {}
            if old.get("total", {}).get("N") == str(total_tasks):
                return False
            raise PermanentError(
                f"job {job_id} already exists in {self.table} with "
                f"{old.get('total', {}).get('N')} tasks, not {total_tasks}"
            ) from None
        return True

    def complete_task(self, job_id: str, task_id: str, *, result: Any = None) -> TaskOutcome:
        """Mark task ``task_id`` of ``job_id`` done once; see :class:`TaskOutcome`."""
        from botocore.exceptions import ClientError

        now = int(time.time())
        task: dict[str, Any] = {
            "pk": {"S": f"JOB#{job_id}"},
            "sk": {"S": f"TASK#{task_id}"},
            "done_at": {"N": str(now)},
            "expires_at": {"N": str(now + self.ttl_seconds)},
        }
        if result is not None:
            task["result"] = {"S": json.dumps(result, default=str, separators=(",", ":"))}
        first = True
        for attempt in range(8):
            try:
                client("dynamodb").transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": task,
                                "ConditionExpression": "attribute_not_exists(sk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self.table,
                                "Key": {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
                                "UpdateExpression": "SET remaining = remaining - :one",
                                "ConditionExpression": "attribute_exists(pk) AND remaining > :zero",
                                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                            }
                        },
                    ]
                )
                break
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                cancelled: dict[str, Any] = dict(error.response)
                reasons = [r.get("Code") for r in cancelled.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    first = False  # the marker exists: this task was counted before
                    break
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise PermanentError(
                        f"task {task_id} of job {job_id}: the job does not exist in {self.table} or "
                        "already has all its tasks; start_job() must run before workers"
                    ) from None
                if attempt == 7:
                    raise
                time.sleep(min(0.02 * (2**attempt), 0.5))  # TransactionConflict with a concurrent worker
        return TaskOutcome(first_delivery=first, job_complete=self._claim_completion(job_id))

    def _claim_completion(self, job_id: str) -> bool:
        from botocore.exceptions import ClientError

        key = {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
        job = (
            client("dynamodb")
            .get_item(
                TableName=self.table,
                Key=key,
                ConsistentRead=True,
                ProjectionExpression="remaining, #s",
                ExpressionAttributeNames={"#s": "status"},
            )
            .get("Item")
        )
        if not job or job.get("remaining", {}).get("N") != "0" or job.get("status", {}).get("S") != "RUNNING":
            return False
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #s = :completed, completed_at = :now",
                ConditionExpression="remaining = :zero AND #s = :running",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":completed": {"S": "COMPLETED"},
                    ":running": {"S": "RUNNING"},
                    ":zero": {"N": "0"},
                    ":now": {"N": str(int(time.time()))},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def status(self, job_id: str) -> JobStatus | None:
        """The job's progress, or ``None`` if there is no such job."""
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, ConsistentRead=True, Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}})
            .get("Item")
        )
        if not item:
            return None
        completed = item.get("completed_at", {}).get("N")
        return JobStatus(
            job_id=job_id,
            total=int(item["total"]["N"]),
            remaining=int(item["remaining"]["N"]),
            status=item["status"]["S"],
            created_at=int(item["created_at"]["N"]),
            completed_at=int(completed) if completed else None,
        )

    def results(self, job_id: str) -> dict[str, Any]:
        """Results stored by :meth:`complete_task`, by task id."""
        out: dict[str, Any] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :task)",
            "ExpressionAttributeValues": {":pk": {"S": f"JOB#{job_id}"}, ":task": {"S": "TASK#"}},
        }
        while True:
            page = client("dynamodb").query(**kwargs)
            for item in page.get("Items", []):
                result = item.get("result", {}).get("S")
                out[item["sk"]["S"].removeprefix("TASK#")] = json.loads(result) if result is not None else None
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
