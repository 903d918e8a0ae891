"""DecoupledInvocation: IAM-authenticated HTTP front -> requests table + task queue -> worker; nag-clean both ways."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match

from eventweave.patterns.decoupled_invocation import DecoupledInvocation, RequestApi
from examples.showcase.handlers import Charge
from examples.showcase.job_handlers import Summarize
from tests.cdk.harness import Synth, synthesize, wildcard_problems


def _default(stack: Stack) -> None:
    summaries = DecoupledInvocation(stack, "Summaries", worker=Summarize, deadline=Duration.minutes(5))
    summaries.grant_invoke(iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal()))


@pytest.fixture(scope="module")
def default() -> Synth:
    return synthesize(_default)


@pytest.fixture(scope="module")
def http_api() -> Synth:
    return synthesize(lambda stack: DecoupledInvocation(stack, "Summaries", worker=Summarize, api=RequestApi.HTTP_API,
                                                        throttle_rate=20, throttle_burst=40), name="HttpApi")


def _function(synth: Synth, entry: str) -> dict[str, Any]:
    [found] = [{"id": k, **v["Properties"]} for k, v in synth.resources("AWS::Lambda::Function").items()
               if v["Properties"]["Handler"] == entry]
    return found


def _actions_of(synth: Synth, function: dict[str, Any]) -> set[str]:
    role = function["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for s in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions |= {s["Action"]} if isinstance(s["Action"], str) else set(s["Action"])
    return actions


def test_no_nag_findings_and_no_lint_errors(default: Synth, http_api: Synth) -> None:
    assert default.findings == []
    assert http_api.findings == []
    assert default.lint_errors == []
    assert http_api.lint_errors == []


def test_function_url_requires_iam_auth(default: Synth) -> None:
    default.assertions.resource_properties_count_is("AWS::Lambda::Url", {"AuthType": "AWS_IAM"}, 1)
    default.assertions.resource_count_is("AWS::Lambda::Url", 1)
    default.assertions.resource_count_is("AWS::ApiGatewayV2::Api", 0)
    # No resource policy opens the function to anyone: callers need an identity policy (grant_invoke).
    default.assertions.resource_count_is("AWS::Lambda::Permission", 0)
    client = [s for s in default.policy_statements() if s["Action"] in ("lambda:InvokeFunctionUrl",
                                                                        "lambda:InvokeFunction")]
    assert {s["Action"] for s in client} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(isinstance(s["Resource"], dict) for s in client)  # the front's ARN, not "<arn>:*"


def test_least_privilege(default: Synth, http_api: Synth) -> None:
    for synth in (default, http_api):
        assert wildcard_problems(synth.policy_statements()) == []
        assert not synth.resources("AWS::IAM::ManagedPolicy")
        for role in synth.resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]
    front = _actions_of(default, _function(default, "eventweave.coordination.requests.front"))
    assert {"dynamodb:PutItem", "dynamodb:GetItem", "sqs:SendMessage"} <= front
    assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:Query",
                "sqs:ReceiveMessage"} & front
    worker = _actions_of(default, _function(default, "examples.showcase.job_handlers.summarize"))
    assert "dynamodb:UpdateItem" in worker
    assert not {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Scan"} & worker


def test_environment_matches_the_handlers(default: Synth) -> None:
    table = {"Ref": Match.string_like_regexp("SummariesRequests")}
    default.assertions.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "eventweave.coordination.requests.front",
        "Timeout": 10,
        "Environment": {"Variables": Match.object_like({
            "EVENTWEAVE_REQUESTS_TABLE": table,
            "EVENTWEAVE_TASK_QUEUE_URL": {"Ref": Match.string_like_regexp("SummariesTasksQueue")},
            "EVENTWEAVE_REQUEST_DEADLINE_SECONDS": "300",
            "EVENTWEAVE_REQUEST_TTL_SECONDS": "86400",
        })},
        "DeadLetterConfig": {"TargetArn": Match.any_value()},
    })
    default.assertions.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "examples.showcase.job_handlers.summarize",
        "Environment": {"Variables": Match.object_like({
            "EVENTWEAVE_REQUESTS_TABLE": table,
            "EVENTWEAVE_DLQ": Match.any_value(),
        })},
    })


def test_requests_table_expires_records(default: Synth) -> None:
    default.assertions.has_resource("AWS::DynamoDB::Table", {
        "Properties": {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
        "DeletionPolicy": "Delete",
    })


def test_worker_drains_a_durable_queue_with_partial_batch_responses(default: Synth) -> None:
    default.assertions.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    default.assertions.has_resource_properties("AWS::SQS::Queue", {
        "VisibilityTimeout": 180,
        "RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": Match.any_value()},
    })


def test_http_api_routes_are_iam_authorized_logged_and_throttled(http_api: Synth) -> None:
    http_api.assertions.resource_count_is("AWS::Lambda::Url", 0)
    routes = {r["Properties"]["RouteKey"]: r["Properties"]
              for r in http_api.resources("AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == {"POST /requests", "GET /requests/{id}"}
    assert all(r["AuthorizationType"] == "AWS_IAM" for r in routes.values())
    http_api.assertions.has_resource_properties("AWS::ApiGatewayV2::Integration", {
        "IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0",
    })
    http_api.assertions.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": "$default",
        "AutoDeploy": True,
        "DefaultRouteSettings": {"ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40},
        "AccessLogSettings": {"DestinationArn": Match.any_value(),
                              "Format": Match.string_like_regexp(r'^\{"requestId":"\$context.requestId"')},
    })
    # API Gateway may invoke the front only from this API.
    for permission in http_api.resources("AWS::Lambda::Permission").values():
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        assert "SourceArn" in permission["Properties"]


def test_http_api_grant_is_scoped_to_the_two_routes() -> None:
    stack = Stack(App(), "Grant")
    api = DecoupledInvocation(stack, "S", worker=Summarize, api=RequestApi.HTTP_API)
    grant = api.grant_invoke(iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal()))
    assert grant.principal_statement is not None
    statement = stack.resolve(grant.principal_statement.to_statement_json())
    assert statement["Action"] == "execute-api:Invoke"
    paths = [part["Fn::Join"][1][-1] for part in statement["Resource"]]
    assert paths == ["/$default/POST/requests", "/$default/GET/requests/*"]


def test_misuse_is_refused_with_the_construct_path() -> None:
    stack = Stack(App(), "Bad")
    with pytest.raises(TypeError, match="Bad/A: worker must subclass"):
        DecoupledInvocation(stack, "A", worker=Charge)
    with pytest.raises(ValueError, match="Bad/B: retention"):
        DecoupledInvocation(stack, "B", worker=Summarize, deadline=Duration.hours(2), retention=Duration.hours(1))
    with pytest.raises(ValueError, match="Bad/C: authorizer"):
        from aws_cdk import aws_apigatewayv2_authorizers as authorizers

        DecoupledInvocation(stack, "C", worker=Summarize, authorizer=authorizers.HttpIamAuthorizer())
