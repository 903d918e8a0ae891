"""IAM: roles, inline policies and customer managed policies, created in moto (stored; the local cloud does not
enforce them).

A role's ``ManagedPolicyArns`` are attached when moto knows the policy (customer managed policies of the local
cloud); AWS managed ones (``arn:aws:iam::aws:policy/...``), which moto does not hold, are recorded on the role's
attributes only.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ._util import json_text
from .base import Clients, DeployContext, PlanContext, Provisioner, register

__all__: list[str] = []


def _role(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("RoleName") or ctx.physical_name(logical, 64)
    iam = ctx.client("iam")
    args: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": json_text(props["AssumeRolePolicyDocument"]),
        "Description": str(props.get("Description", ""))[:1000],
    }
    if props.get("Path"):
        args["Path"] = str(props["Path"])
    role = iam.create_role(**args)["Role"]
    for policy in props.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json_text(policy["PolicyDocument"])
        )
    unattached: list[str] = []
    for arn in props.get("ManagedPolicyArns") or []:
        try:
            iam.attach_role_policy(RoleName=name, PolicyArn=str(arn))
        except Exception as error:
            if "NoSuchEntity" not in str(error):
                raise
            unattached.append(str(arn))  # AWS managed (moto holds none) or from outside the local cloud
    return name, {
        "Arn": role["Arn"],
        "RoleId": role["RoleId"],
        "_inline": [p["PolicyName"] for p in props.get("Policies") or []],
        "_aws_managed": unattached,
    }


def _role_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("RoleName") or f"{plan.name}-{logical}"
    return name, {"Arn": f"arn:aws:iam::{plan.account}:role/{name}", "RoleId": "AROAPLACEHOLDER"}


def _delete_role(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    iam = clients.client("iam")
    for policy in iam.list_role_policies(RoleName=ref).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=ref, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=ref).get("AttachedPolicies", []):
        iam.detach_role_policy(RoleName=ref, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=ref)


def _policy(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props["PolicyName"]
    for role in props.get("Roles") or []:
        ctx.client("iam").put_role_policy(
            RoleName=role, PolicyName=name, PolicyDocument=json_text(props["PolicyDocument"])
        )
    return f"{ctx.name}-{name}", {"_roles": list(props.get("Roles") or []), "_name": name}


def _delete_policy(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    for role in attrs.get("_roles", []):
        clients.client("iam").delete_role_policy(RoleName=role, PolicyName=attrs["_name"])


def _managed_policy(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("ManagedPolicyName") or ctx.physical_name(logical, 128)
    iam = ctx.client("iam")
    args: dict[str, Any] = {"PolicyName": name, "PolicyDocument": json_text(props["PolicyDocument"])}
    if props.get("Path"):
        args["Path"] = str(props["Path"])
    if props.get("Description"):
        args["Description"] = str(props["Description"])
    policy = iam.create_policy(**args)["Policy"]
    arn = policy["Arn"]
    for role in props.get("Roles") or []:
        iam.attach_role_policy(RoleName=str(role), PolicyArn=arn)
    for user in props.get("Users") or []:
        iam.attach_user_policy(UserName=str(user), PolicyArn=arn)
    for group in props.get("Groups") or []:
        iam.attach_group_policy(GroupName=str(group), PolicyArn=arn)
    return arn, {
        "PolicyArn": arn,
        "PolicyId": policy.get("PolicyId", ""),
        "DefaultVersionId": policy.get("DefaultVersionId", "v1"),
        "AttachmentCount": len(props.get("Roles") or []) + len(props.get("Users") or []),
        "IsAttachable": True,
    }


def _managed_policy_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("ManagedPolicyName") or f"{plan.name}-{logical}"
    path = str(props.get("Path") or "/")
    arn = f"arn:aws:iam::{plan.account}:policy{path}{name}"
    return arn, {"PolicyArn": arn}


def _delete_managed_policy(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    iam = clients.client("iam")
    entities = iam.list_entities_for_policy(PolicyArn=ref)
    for role in entities.get("PolicyRoles", []):
        with contextlib.suppress(Exception):  # a role already deleted took its attachment with it
            iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=ref)
    for user in entities.get("PolicyUsers", []):
        with contextlib.suppress(Exception):
            iam.detach_user_policy(UserName=user["UserName"], PolicyArn=ref)
    for group in entities.get("PolicyGroups", []):
        with contextlib.suppress(Exception):
            iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=ref)
    for version in iam.list_policy_versions(PolicyArn=ref).get("Versions", []):
        if not version.get("IsDefaultVersion"):
            iam.delete_policy_version(PolicyArn=ref, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=ref)


register("AWS::IAM::Role", Provisioner(create=_role, delete=_delete_role, placeholder=_role_placeholder))
register("AWS::IAM::Policy", Provisioner(create=_policy, delete=_delete_policy))
register(
    "AWS::IAM::ManagedPolicy",
    Provisioner(create=_managed_policy, delete=_delete_managed_policy, placeholder=_managed_policy_placeholder),
)
