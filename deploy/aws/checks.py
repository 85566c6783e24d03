"""Checks of checkov that a resource passes over, each with its reason beside it in the
template's metadata, where checkov reads it."""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect, RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct


def skip(construct: IConstruct, check: str, reason: str) -> None:
    """Have checkov pass over check on construct's resource, for reason."""
    resource = _resource(construct)
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"].append({"id": check, "comment": reason})
    resource.add_metadata("checkov", metadata)


def log_group(scope: Construct, name: str, *, days: int) -> logs.LogGroup:
    """Return a new log group that keeps its events days, and is kept if the stack goes."""
    group = logs.LogGroup(scope, name, removal_policy=RemovalPolicy.RETAIN)
    group.node.default_child.retention_in_days = days  # any number CloudWatch Logs takes
    skip(group, "CKV_AWS_158", "Encrypted by CloudWatch Logs' own key; no secret is logged.")
    return group


@jsii.implements(IAspect)
class CdkHandlers:
    """Passes checkov's checks of Lambda functions over the CDK's own handlers, which run at
    deploy time only (PriceHub has no function of its own)."""

    CHECKS = {
        "CKV_AWS_115": "Runs once a deployment: no concurrency to reserve.",
        "CKV_AWS_116": "Its failure fails the deployment, which says why: no queue needed.",
        "CKV_AWS_117": "Calls AWS's APIs only; nothing of the VPC.",
        "CKV_AWS_173": "Its environment holds no secret.",
    }

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            for check, reason in self.CHECKS.items():
                skip(node, check, reason)


def _resource(construct: IConstruct) -> CfnResource:
    # An L2 construct's own resource, or the L1 resource itself.
    child = construct.node.default_child
    return child if isinstance(child, CfnResource) else construct  # type: ignore[return-value]
