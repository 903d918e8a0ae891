"""DynamoDB: tables (``AWS::DynamoDB::Table``) and global tables (``AWS::DynamoDB::GlobalTable``, CDK's
``TableV2``), created in moto with their streams.

A global table becomes one table in the local region: the replica of this region (its indexes' read capacity, its
tags) is what is created; replicas in other regions are not, since the local cloud is one region.
"""

from __future__ import annotations

from typing import Any

from .base import Clients, DeployContext, PlanContext, Provisioner, register

__all__ = ["create_table", "table_properties"]

_DEFAULT_THROUGHPUT = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}


def create_table(ctx: DeployContext, name: str, props: dict[str, Any]) -> dict[str, Any]:
    """Create a table from ``AWS::DynamoDB::Table`` properties; return its ``Arn`` / ``StreamArn`` attributes."""
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
    }
    billing = props.get("BillingMode", "PROVISIONED")
    args["BillingMode"] = billing
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = props.get("ProvisionedThroughput", dict(_DEFAULT_THROUGHPUT))
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            args[key] = props[key]
    stream = props.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if props.get("Tags"):
        args["Tags"] = [{"Key": str(t["Key"]), "Value": str(t.get("Value", ""))} for t in props["Tags"]]
    description = ctx.client("dynamodb").create_table(**args)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ctx.client("dynamodb").update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    attrs = {"Arn": description["TableArn"], "TableId": description.get("TableId", "")}
    if "LatestStreamArn" in description:
        attrs["StreamArn"] = description["LatestStreamArn"]
    return attrs


def _table(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("TableName") or ctx.physical_name(logical, 255)
    return name, create_table(ctx, name, props)


def _table_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("TableName") or f"{plan.name}-{logical}"
    arn = f"arn:aws:dynamodb:{plan.region}:{plan.account}:table/{name}"
    attrs = {"Arn": arn, "TableId": "placeholder"}
    if props.get("StreamSpecification"):
        attrs["StreamArn"] = f"{arn}/stream/1970-01-01T00:00:00.000"
    return name, attrs


def _global_table(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("TableName") or ctx.physical_name(logical, 255)
    return name, create_table(ctx, name, table_properties(props, ctx.region))


def table_properties(props: dict[str, Any], region: str) -> dict[str, Any]:
    """``AWS::DynamoDB::Table`` properties for the ``region`` replica of an ``AWS::DynamoDB::GlobalTable``."""
    replicas = [r for r in props.get("Replicas") or [] if isinstance(r, dict)]
    replica = next((r for r in replicas if r.get("Region") == region), replicas[0] if replicas else {})
    billing = props.get("BillingMode", "PROVISIONED")
    table: dict[str, Any] = {
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": billing,
    }
    for key in ("StreamSpecification", "TimeToLiveSpecification", "LocalSecondaryIndexes"):
        if key in props:
            table[key] = props[key]
    if replica.get("Tags"):
        table["Tags"] = replica["Tags"]
    write = _capacity((props.get("WriteProvisionedThroughputSettings") or {}).get("WriteCapacityAutoScalingSettings"))
    read_settings = replica.get("ReadProvisionedThroughputSettings") or {}
    read = _units(read_settings.get("ReadCapacityUnits")) or _capacity(
        read_settings.get("ReadCapacityAutoScalingSettings")
    )
    if billing == "PROVISIONED":
        table["ProvisionedThroughput"] = {"ReadCapacityUnits": read or 5, "WriteCapacityUnits": write or 5}
    replica_indexes = {i.get("IndexName"): i for i in replica.get("GlobalSecondaryIndexes") or []}
    indexes = []
    for index in props.get("GlobalSecondaryIndexes") or []:
        entry = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
        if billing == "PROVISIONED":
            index_write = _capacity(
                (index.get("WriteProvisionedThroughputSettings") or {}).get("WriteCapacityAutoScalingSettings")
            )
            index_read = (replica_indexes.get(index.get("IndexName")) or {}).get(
                "ReadProvisionedThroughputSettings"
            ) or {}
            entry["ProvisionedThroughput"] = {
                "ReadCapacityUnits": _units(index_read.get("ReadCapacityUnits")) or read or 5,
                "WriteCapacityUnits": index_write or write or 5,
            }
        indexes.append(entry)
    if indexes:
        table["GlobalSecondaryIndexes"] = indexes
    return table


def _units(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _capacity(auto_scaling: Any) -> int | None:
    if not isinstance(auto_scaling, dict):
        return None
    return _units(auto_scaling.get("MinCapacity"))


def _delete_table(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("dynamodb").delete_table(TableName=ref)


register("AWS::DynamoDB::Table", Provisioner(create=_table, delete=_delete_table, placeholder=_table_placeholder))
register(
    "AWS::DynamoDB::GlobalTable",
    Provisioner(create=_global_table, delete=_delete_table, placeholder=_table_placeholder),
)
