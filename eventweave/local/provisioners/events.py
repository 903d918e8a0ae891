"""EventBridge: event buses, rules (with their targets) and archives, created in moto.

moto matches event patterns and delivers to SQS targets itself. Lambda and SNS targets make moto's ``PutEvents``
fail, so the rule targets an internal relay queue instead and eventweave's push relay delivers (input transformer,
retry policy and dead-letter queue applied by eventweave). A rule with a ``ScheduleExpression`` is recorded in
:attr:`~eventweave.local.deployer.Deployment.schedules`; :mod:`eventweave.local.schedules` fires it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..model import PushTarget, ScheduleSpec
from ._patterns import pattern_problem, schedule_problem
from ._util import json_text, service_of
from .base import Clients, Constraints, DeployContext, Issue, PlanContext, Provisioner, register

__all__ = ["MAX_TARGETS", "SUPPORTED_TARGETS"]

MAX_TARGETS = 5
"""EventBridge's quota of targets per rule."""
SUPPORTED_TARGETS = ("sqs", "lambda", "sns")
"""Rule target services the local cloud delivers to."""
_TARGET_ID = re.compile(r"^[\.\-_A-Za-z0-9]+$")


def _bus(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props["Name"]
    arn = ctx.client("events").create_event_bus(Name=name)["EventBusArn"]
    return name, {"Arn": arn, "Name": name}


def _bus_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or f"{plan.name}-{logical}")
    return name, {"Arn": f"arn:aws:events:{plan.region}:{plan.account}:event-bus/{name}", "Name": name}


def _delete_bus(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("events").delete_event_bus(Name=ref)


def _bus_name(props: dict[str, Any]) -> str:
    bus = str(props.get("EventBusName") or "default")
    return bus.rsplit("/", maxsplit=1)[-1] if bus.startswith("arn:") else bus


def _rule(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("Name") or ctx.physical_name(logical, 64)
    bus_name = _bus_name(props)
    state = props.get("State", "ENABLED")
    args: dict[str, Any] = {"Name": name, "EventBusName": bus_name, "State": state}
    if "EventPattern" in props:
        args["EventPattern"] = json_text(props["EventPattern"])
    if "ScheduleExpression" in props:
        args["ScheduleExpression"] = props["ScheduleExpression"]
    arn = ctx.client("events").put_rule(**args)["RuleArn"]
    targets: list[dict[str, Any]] = []
    for target in props.get("Targets") or []:
        service = service_of(target["Arn"])
        transformed = any(key in target for key in ("Input", "InputPath", "InputTransformer"))
        if service == "sqs" and not transformed:
            targets.append({k: v for k, v in target.items() if k not in ("DeadLetterConfig", "RetryPolicy")})
            continue
        if service in ("lambda", "sns", "sqs"):
            url, queue_arn = ctx.relay_queue(logical)
            targets.append({"Id": target["Id"], "Arn": queue_arn})
            transform = {k: target[k] for k in ("Input", "InputPath", "InputTransformer") if k in target}
            retry = target.get("RetryPolicy") or {}
            ctx.deployment.push_targets.append(
                PushTarget(
                    kind="events",
                    source_arn=arn,
                    target_arn=str(target["Arn"]),
                    relay_queue_url=url,
                    input_transform=transform or None,
                    dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                    maximum_retry_attempts=int(retry.get("MaximumRetryAttempts", 185)),
                    maximum_event_age_seconds=int(retry.get("MaximumEventAgeInSeconds", 86400)),
                    message_group_id=(target.get("SqsParameters") or {}).get("MessageGroupId"),
                )
            )
            continue
        raise ValueError(
            f"EventBridge target {target['Arn']} ({service}) cannot be delivered locally (supported: sqs, lambda, sns)"
        )
    if targets:
        ctx.client("events").put_targets(Rule=name, EventBusName=bus_name, Targets=targets)
    if "ScheduleExpression" in props:
        ctx.deployment.schedules.append(
            ScheduleSpec(
                kind="rule",
                name=name,
                group=bus_name,
                arn=arn,
                expression=str(props["ScheduleExpression"]),
                enabled=state == "ENABLED",
                logical_id=logical,
            )
        )
    return (name if bus_name == "default" else f"{bus_name}|{name}"), {
        "Arn": arn,
        "_bus": bus_name,
        "_name": name,
        "_targets": [t["Id"] for t in targets],
    }


def _rule_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or f"{plan.name}-{logical}")
    bus = _bus_name(props)
    path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
    return (name if bus == "default" else f"{bus}|{name}"), {
        "Arn": f"arn:aws:events:{plan.region}:{plan.account}:{path}"
    }


def _validate_rule(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    """PutRule and PutTargets, as EventBridge checks them."""
    pattern = props.get("EventPattern")
    schedule = props.get("ScheduleExpression")
    if not pattern and not schedule:
        yield Issue("Parameter(s) EventPattern or ScheduleExpression must be specified.", "ValidationException")
    if schedule:
        if _bus_name(props) != "default":
            yield Issue("ScheduleExpression is supported only on the default event bus.", "ValidationException")
        elif schedule_problem(str(schedule)):
            yield Issue("Parameter ScheduleExpression is not valid.", "ValidationException")
    if pattern:
        problem = pattern_problem(pattern)
        if problem:
            yield Issue(
                problem
                if problem.startswith("Event pattern is not valid")
                else f"Event pattern is not valid. Reason: {problem}",
                "InvalidEventPatternException",
            )
    targets = [t for t in props.get("Targets") or [] if isinstance(t, dict)]
    if len(targets) > MAX_TARGETS:
        yield Issue("The requested resource exceeds the maximum number allowed.", "LimitExceededException")
    checks = Constraints()
    for index, target in enumerate(targets, start=1):
        member = f"targets.{index}.member"
        target_id = str(target.get("Id", ""))
        checks.length(target_id, f"{member}.id", 1, 64)
        if target_id and not _TARGET_ID.match(target_id):
            checks.errors.append(
                f"Value '{target_id}' at '{member}.id' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
            )
        retry = target.get("RetryPolicy") or {}
        checks.between(retry.get("MaximumRetryAttempts"), f"{member}.retryPolicy.maximumRetryAttempts", 0, 185)
        checks.between(
            retry.get("MaximumEventAgeInSeconds"), f"{member}.retryPolicy.maximumEventAgeInSeconds", 60, 86400
        )
        checks.longest(target.get("Input"), f"{member}.input", 8192)
    yield from checks.issues()
    for target in targets:
        arn = str(target.get("Arn", ""))
        service = service_of(arn)
        if service == "sqs" and arn.endswith(".fifo") and not target.get("SqsParameters"):
            yield Issue(
                f"Parameter(s) SqsParameters must be specified for target: {target.get('Id')}.", "ValidationException"
            )
        if service not in SUPPORTED_TARGETS:
            yield Issue(
                f"EventBridge target {arn} ({service or 'not an ARN'}) cannot be delivered locally "
                f"(supported: {', '.join(SUPPORTED_TARGETS)})"
            )


def _delete_rule(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    events = clients.client("events")
    if attrs.get("_targets"):
        events.remove_targets(Rule=attrs["_name"], EventBusName=attrs["_bus"], Ids=attrs["_targets"])
    events.delete_rule(Name=attrs["_name"], EventBusName=attrs["_bus"])


def _archive(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("ArchiveName") or ctx.physical_name(logical, 48)
    args: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    if "RetentionDays" in props:
        args["RetentionDays"] = int(props["RetentionDays"])
    if "EventPattern" in props:
        args["EventPattern"] = json_text(props["EventPattern"])
    arn = ctx.client("events").create_archive(**args)["ArchiveArn"]
    return name, {"Arn": arn, "ArchiveName": name}


def _delete_archive(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("events").delete_archive(ArchiveName=ref)


register("AWS::Events::EventBus", Provisioner(create=_bus, delete=_delete_bus, placeholder=_bus_placeholder))
register(
    "AWS::Events::Rule",
    Provisioner(create=_rule, delete=_delete_rule, validate=_validate_rule, placeholder=_rule_placeholder),
)
register("AWS::Events::Archive", Provisioner(create=_archive, delete=_delete_archive))
