"""How the local cloud deploys each CloudFormation resource type: a registry of provisioners, one module per service.

The :class:`~eventweave.local.deployer.Deployer` looks every resource's ``Type`` up here. A provisioner
(:class:`Provisioner`) creates the resource (``create`` returns its ``Ref`` value and its attributes), deletes it,
optionally validates it before anything of the stack is created (returning :class:`Issue` s with AWS's error code
and message), and optionally predicts its ``Ref`` / attributes for that validation (``placeholder``).

Built in: SQS, SNS, DynamoDB (tables and global tables), Kinesis, EventBridge, EventBridge Scheduler, KMS, IAM
(roles, policies, managed policies), CloudWatch Logs and alarms, S3 (buckets, policies, CDK's auto-delete and
bucket-notification custom resources), SSM parameters, Secrets Manager secrets, nested stacks, and Lambda
(functions, mappings, async configs, URLs, versions, aliases, layers). :func:`registered_types` lists them.

Extend it for a type of your own app, a ``Custom::`` resource say, in the process that runs the local cloud (a
``conftest.py``, or before ``eventweave local up`` imports your module)::

    from eventweave.local.provisioners import Provisioner, register

    def create_greeting(ctx, logical_id, props):
        # ctx.client("ssm"), ctx.physical_name(...), ctx.deployment ... (see DeployContext)
        name = f"/greetings/{props['Name']}"
        ctx.client("ssm").put_parameter(Name=name, Value=props["Text"], Type="String")
        return name, {"Text": props["Text"]}          # Ref value, Fn::GetAtt attributes

    def delete_greeting(clients, ref, attrs):
        clients.client("ssm").delete_parameter(Name=ref)

    register(
        "Custom::Greeting",
        Provisioner(create=create_greeting, delete=delete_greeting, native_service_token=True),
    )

``native_service_token=True`` tells the deployer that the Lambda function named by the resource's ``ServiceToken``
is only the custom resource's provider: it is recorded, not run (the way CDK's own providers are handled).
"""

from __future__ import annotations

from . import (  # noqa: F401 - each module registers its types on import
    cloudformation,
    cloudwatch,
    dynamodb,
    events,
    iam,
    kinesis,
    kms,
    lambda_,
    logs,
    s3,
    scheduler,
    secretsmanager,
    sns,
    sqs,
    ssm,
)
from .base import (
    Clients,
    Constraints,
    DeployContext,
    Issue,
    PlanContext,
    Planned,
    Provisioner,
    Retained,
    lookup,
    register,
    registered_types,
    unregister,
)

__all__ = [
    "Clients",
    "Constraints",
    "DeployContext",
    "Issue",
    "PlanContext",
    "Planned",
    "Provisioner",
    "Retained",
    "lookup",
    "register",
    "registered_types",
    "unregister",
]
