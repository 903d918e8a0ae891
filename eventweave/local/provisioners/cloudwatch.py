"""CloudWatch: metric alarms, created in moto (they are stored, not evaluated)."""

from __future__ import annotations

from typing import Any

from .base import Clients, DeployContext, Provisioner, register

__all__: list[str] = []

_ALARM_KEYS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def _alarm(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("AlarmName") or ctx.physical_name(logical, 255)
    args = {key: props[key] for key in _ALARM_KEYS if key in props}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in args:
            args[key] = int(args[key])
    if "Threshold" in args:
        args["Threshold"] = float(args["Threshold"])
    ctx.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)
    return name, {"Arn": ctx.arn("cloudwatch", f"alarm:{name}")}


def _delete_alarm(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("cloudwatch").delete_alarms(AlarmNames=[ref])


register("AWS::CloudWatch::Alarm", Provisioner(create=_alarm, delete=_delete_alarm))
