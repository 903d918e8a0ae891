"""EventBridge Scheduler: schedule groups and schedules, created in moto's Scheduler and recorded in
:attr:`~eventweave.local.deployer.Deployment.schedules`.

moto stores a schedule but never fires it; :class:`eventweave.local.schedules.Scheduler` does, on its ``rate()``,
``cron()`` or ``at()`` expression, reading the definition from moto (so an ``UpdateSchedule`` is honoured), and
``fire_now`` fires one at once. Templated targets fired locally: Lambda (asynchronous invoke), SQS, SNS,
EventBridge buses and Kinesis streams.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from ..model import ScheduleSpec
from ._patterns import schedule_problem
from ._util import service_of
from .base import Clients, Constraints, DeployContext, Issue, PlanContext, Provisioner, register

__all__ = ["FIRED_TARGETS"]

FIRED_TARGETS = ("lambda", "sqs", "sns", "events", "kinesis")
"""Services of the templated targets the local scheduler delivers to."""

_TARGET_KEYS = (
    "Arn",
    "RoleArn",
    "Input",
    "RetryPolicy",
    "DeadLetterConfig",
    "SqsParameters",
    "EventBridgeParameters",
    "KinesisParameters",
)


def _group(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or ctx.physical_name(logical, 64))
    arn = ctx.client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
    now = dt.datetime.now(dt.UTC).isoformat()
    return name, {"Arn": arn, "State": "ACTIVE", "CreationDate": now, "LastModificationDate": now}


def _group_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or f"{plan.name}-{logical}")
    return name, {"Arn": f"arn:aws:scheduler:{plan.region}:{plan.account}:schedule-group/{name}"}


def _delete_group(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("scheduler").delete_schedule_group(Name=ref)


def _schedule(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or ctx.physical_name(logical, 64))
    group = str(props.get("GroupName") or "default")
    target = {k: v for k, v in (props.get("Target") or {}).items() if k in _TARGET_KEYS}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in target.get("RetryPolicy", {}):
            target["RetryPolicy"][key] = int(target["RetryPolicy"][key])
    window = dict(props.get("FlexibleTimeWindow") or {"Mode": "OFF"})
    if "MaximumWindowInMinutes" in window:
        window["MaximumWindowInMinutes"] = int(window["MaximumWindowInMinutes"])
    timezone = str(props.get("ScheduleExpressionTimezone") or "UTC")
    state = str(props.get("State") or "ENABLED")
    args: dict[str, Any] = {
        "Name": name,
        "GroupName": group,
        "ScheduleExpression": str(props["ScheduleExpression"]),
        "ScheduleExpressionTimezone": timezone,
        "FlexibleTimeWindow": window,
        "Target": target,
        "State": state,
    }
    for key in ("Description", "StartDate", "EndDate", "KmsKeyArn"):
        if props.get(key):
            args[key] = props[key]
    arn = ctx.client("scheduler").create_schedule(**args)["ScheduleArn"]
    ctx.deployment.schedules.append(
        ScheduleSpec(
            kind="scheduler",
            name=name,
            group=group,
            arn=arn,
            expression=str(props["ScheduleExpression"]),
            timezone=timezone,
            enabled=state == "ENABLED",
            logical_id=logical,
        )
    )
    return name, {"Arn": arn, "_group": group}


def _schedule_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or f"{plan.name}-{logical}")
    group = str(props.get("GroupName") or "default")
    return name, {"Arn": f"arn:aws:scheduler:{plan.region}:{plan.account}:schedule/{group}/{name}"}


def _validate_schedule(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    expression = str(props.get("ScheduleExpression") or "")
    target = props.get("Target") or {}
    window = props.get("FlexibleTimeWindow") or {}
    checks = Constraints()
    checks.one_of(window.get("Mode"), "flexibleTimeWindow.mode", ("OFF", "FLEXIBLE"))
    checks.between(window.get("MaximumWindowInMinutes"), "flexibleTimeWindow.maximumWindowInMinutes", 1, 1440)
    retry = target.get("RetryPolicy") or {}
    checks.between(retry.get("MaximumRetryAttempts"), "target.retryPolicy.maximumRetryAttempts", 0, 185)
    checks.between(retry.get("MaximumEventAgeInSeconds"), "target.retryPolicy.maximumEventAgeInSeconds", 60, 86400)
    checks.one_of(props.get("State"), "state", ("ENABLED", "DISABLED"))
    yield from checks.issues()
    if schedule_problem(expression, allow_at=True):
        yield Issue(f"Invalid Schedule Expression {expression}.", "ValidationException")
    if window.get("Mode") == "FLEXIBLE" and "MaximumWindowInMinutes" not in window:
        yield Issue("MaximumWindowInMinutes must be provided when Mode is FLEXIBLE.", "ValidationException")
    timezone = props.get("ScheduleExpressionTimezone")
    if timezone:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(str(timezone))
        except Exception:
            yield Issue(f"Invalid time zone {timezone}.", "ValidationException")
    service = service_of(target.get("Arn"))
    if service not in FIRED_TARGETS:
        yield Issue(
            f"schedule target {target.get('Arn')!r}: the local scheduler fires templated targets of "
            f"{', '.join(FIRED_TARGETS)} only (not universal targets)"
        )


def _delete_schedule(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("scheduler").delete_schedule(Name=ref, GroupName=attrs.get("_group", "default"))


register(
    "AWS::Scheduler::ScheduleGroup",
    Provisioner(create=_group, delete=_delete_group, placeholder=_group_placeholder),
)
register(
    "AWS::Scheduler::Schedule",
    Provisioner(
        create=_schedule, delete=_delete_schedule, validate=_validate_schedule, placeholder=_schedule_placeholder
    ),
)
