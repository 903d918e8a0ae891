"""S3: buckets, bucket policies, and CDK's bucket custom resources done natively.

* ``AWS::S3::Bucket``: created in moto with its versioning, encryption, public access block, CORS, ownership
  controls, object lock and tags (a lifecycle or website configuration is not applied: moto does not act on them).
  On destroy an empty bucket is deleted; one that still holds objects cannot be, as in CloudFormation: with
  ``DeletionPolicy: Retain`` (CDK's default) it is kept and listed in ``Deployment.retained``; otherwise it is kept
  and the destroy fails, naming it, after deleting everything else. ``auto_delete_objects`` empties it first.
* ``Custom::S3AutoDeleteObjects``: nothing on create; empties the bucket (every version and delete marker) on
  destroy, before the bucket is deleted.
* ``Custom::S3BucketNotifications`` and a bucket's own ``NotificationConfiguration``: SQS, SNS and Lambda
  destinations. moto matches the event names and key filters and sends its record to an internal relay queue; the
  relay (:mod:`eventweave.local.notifications`) delivers the documented S3 record to the destination. The test event
  S3 sends when a configuration is saved reaches the SQS and SNS destinations, as in AWS. An
  ``EventBridgeConfiguration`` is passed to moto, which sends its own S3 events to the account's rules.

The providers of both custom resources (CDK's Lambda functions) are recorded, never run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from ..model import BucketNotificationSpec, BucketNotificationTarget
from ._util import json_text, service_of, tag_list
from .base import Clients, DeployContext, Issue, PlanContext, Provisioner, Retained, register

__all__ = ["configure_notifications", "empty_bucket"]

_RETAIN = ("Retain", "RetainExceptOnCreate", "Snapshot")


def _bucket_name(ctx: DeployContext, logical: str) -> str:
    return ctx.physical_name(logical.lower(), 63).lower()


def _bucket(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("BucketName") or _bucket_name(ctx, logical))
    s3 = ctx.client("s3")
    args: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    if props.get("ObjectLockEnabled"):
        args["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**args)
    versioning = (props.get("VersioningConfiguration") or {}).get("Status")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    encryption = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        rules = [
            {
                ("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                for k, v in rule.items()
            }
            for rule in encryption
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=_booleans(props["PublicAccessBlockConfiguration"])
        )
    if props.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    cors = (props.get("CorsConfiguration") or {}).get("CorsRules")
    if cors:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(rule) for rule in cors]})
    tags = tag_list(props.get("Tags"))
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    if props.get("NotificationConfiguration"):
        configure_notifications(ctx, logical, name, _api_notifications(props["NotificationConfiguration"]))
    policy = str(ctx.resource(logical).get("DeletionPolicy") or "Delete")
    return name, {**_bucket_attributes(name, ctx.region), "_retain": policy in _RETAIN}


def _bucket_attributes(name: str, region: str) -> dict[str, Any]:
    return {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
    }


def _bucket_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("BucketName") or f"{plan.name}-{logical}".lower())
    return name, _bucket_attributes(name, plan.region)


def _booleans(config: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, bool) else str(v).lower() == "true") for k, v in config.items()}


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    renames = {"ExposedHeaders": "ExposeHeaders", "Id": "ID", "MaxAge": "MaxAgeSeconds"}
    out = {renames.get(k, k): v for k, v in rule.items()}
    if "MaxAgeSeconds" in out:
        out["MaxAgeSeconds"] = int(out["MaxAgeSeconds"])
    return out


def _validate_bucket(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    if props.get("NotificationConfiguration"):
        yield from _notification_issues(plan, _api_notifications(props["NotificationConfiguration"]))


def _delete_bucket(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    s3 = clients.client("s3")
    try:
        s3.delete_bucket(Bucket=ref)
    except Exception as error:
        if "BucketNotEmpty" in str(error) and attrs.get("_retain"):
            raise Retained("the bucket is not empty; DeletionPolicy Retain keeps it, as CloudFormation does") from None
        raise


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object, version and delete marker of ``bucket``; return how many were deleted."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            deleted += len(chunk)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):  # unversioned leftovers
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def _bucket_policy(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    bucket = str(props["Bucket"])
    ctx.client("s3").put_bucket_policy(Bucket=bucket, Policy=json_text(props["PolicyDocument"]))
    return f"{ctx.name}-{logical}", {"_bucket": bucket}


def _delete_bucket_policy(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("s3").delete_bucket_policy(Bucket=attrs["_bucket"])


# -- CDK's custom resources ----------------------------------------------------------------------------------------


def _auto_delete(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    bucket = str(props["BucketName"])
    return f"{bucket}-auto-delete-objects", {"_bucket": bucket}


def _delete_auto_delete(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    empty_bucket(clients.client("s3"), attrs["_bucket"])


def _bucket_notifications(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    bucket = str(props["BucketName"])
    configure_notifications(ctx, logical, bucket, props.get("NotificationConfiguration") or {})
    return f"{bucket}-notifications", {"_bucket": bucket}


def _validate_bucket_notifications(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    yield from _notification_issues(plan, props.get("NotificationConfiguration") or {})


def _delete_bucket_notifications(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("s3").put_bucket_notification_configuration(Bucket=attrs["_bucket"], NotificationConfiguration={})


_KINDS = (
    ("QueueConfigurations", "QueueArn"),
    ("TopicConfigurations", "TopicArn"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
)


def configure_notifications(ctx: DeployContext, logical: str, bucket: str, config: dict[str, Any]) -> None:
    """Point ``bucket``'s notifications (API shape: ``QueueConfigurations``...) at a relay queue and record them."""
    entries: list[dict[str, Any]] = []
    targets: list[BucketNotificationTarget] = []
    for key, arn_key in _KINDS:
        for entry in config.get(key) or []:
            configuration_id = str(entry.get("Id") or _configuration_id())
            targets.append(BucketNotificationTarget(configuration_id, str(entry[arn_key])))
            relayed: dict[str, Any] = {"Id": configuration_id, "Events": list(entry.get("Events") or [])}
            rules = ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
            if rules:
                relayed["Filter"] = {
                    "Key": {"FilterRules": [{"Name": str(r["Name"]).lower(), "Value": str(r["Value"])} for r in rules]}
                }
            entries.append(relayed)
    api: dict[str, Any] = {}
    if entries:
        url, queue_arn = ctx.relay_queue(logical)
        api["QueueConfigurations"] = [{**entry, "QueueArn": queue_arn} for entry in entries]
        ctx.deployment.bucket_notifications.append(BucketNotificationSpec(bucket, url, tuple(targets)))
    if "EventBridgeConfiguration" in config:
        api["EventBridgeConfiguration"] = config["EventBridgeConfiguration"] or {}
    ctx.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=api)


def _configuration_id() -> str:
    """An id like the ones S3 gives configurations saved without one."""
    return uuid.uuid4().hex + uuid.uuid4().hex[:16]


def _api_notifications(config: dict[str, Any]) -> dict[str, Any]:
    """A bucket's ``NotificationConfiguration`` property (``Event``, ``Queue``, ``Filter.S3Key.Rules``) in the API's
    shape (``Events``, ``QueueArn``, ``Filter.Key.FilterRules``), as CDK's custom resource already writes it."""
    out: dict[str, Any] = {}
    for key, arn_key, cfn_key in (
        ("QueueConfigurations", "QueueArn", "Queue"),
        ("TopicConfigurations", "TopicArn", "Topic"),
        ("LambdaConfigurations", "LambdaFunctionArn", "Function"),
    ):
        api_key = "LambdaFunctionConfigurations" if key == "LambdaConfigurations" else key
        for entry in config.get(key) or []:
            rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
            converted: dict[str, Any] = {"Events": [entry["Event"]], arn_key: entry[cfn_key]}
            if rules:
                converted["Filter"] = {"Key": {"FilterRules": rules}}
            out.setdefault(api_key, []).append(converted)
    if config.get("EventBridgeConfiguration") is not None:
        bridge = config["EventBridgeConfiguration"]
        if not isinstance(bridge, dict) or bridge.get("EventBridgeEnabled", True) in (True, "true"):
            out["EventBridgeConfiguration"] = {}
    return out


def _notification_issues(plan: PlanContext, config: dict[str, Any]) -> Iterator[Issue]:
    for key, arn_key in _KINDS:
        for entry in config.get(key) or []:
            arn = str(entry.get(arn_key, ""))
            service = service_of(arn)
            if service == "sqs":
                queue = plan.find(arn, "AWS::SQS::Queue")
                if arn.endswith(".fifo") or (queue is not None and queue.props and queue.props.get("FifoQueue")):
                    yield Issue(
                        "Unable to validate the following destination configurations: a FIFO queue cannot receive "
                        f"S3 event notifications ({arn})",
                        "InvalidArgument",
                    )
            elif service not in ("sns", "lambda"):
                yield Issue(f"S3 notification destination {arn!r} is not an SQS queue, SNS topic or Lambda function")


register(
    "AWS::S3::Bucket",
    Provisioner(create=_bucket, delete=_delete_bucket, validate=_validate_bucket, placeholder=_bucket_placeholder),
)
register("AWS::S3::BucketPolicy", Provisioner(create=_bucket_policy, delete=_delete_bucket_policy))
register(
    "Custom::S3AutoDeleteObjects",
    Provisioner(create=_auto_delete, delete=_delete_auto_delete, native_service_token=True),
)
register(
    "Custom::S3BucketNotifications",
    Provisioner(
        create=_bucket_notifications,
        delete=_delete_bucket_notifications,
        validate=_validate_bucket_notifications,
        native_service_token=True,
    ),
)
