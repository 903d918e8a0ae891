#!/usr/bin/env python3
"""The example CDK app: `CDK_OUTDIR=cdk.out python app.py` or `npx cdk synth` (CLI aws-cdk@2, see package.json).

One stack per example service (see examples/<name>/README.md) plus the showcase (every pattern once). Deploy one with
`npx cdk deploy EventweaveOrders`; run them all locally with `make demo` or `eventweave local up`.
Every stack is checked with cdk-nag (AwsSolutions and Serverless packs) during synth: a finding fails it.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment

from eventweave.constructs import add_checks
from examples.jobs.stack import JobsStack
from examples.ledger.stack import LedgerStack
from examples.orders.stack import OrdersStack
from examples.reports.stack import ReportsStack
from examples.showcase.stack import ShowcaseStack

app = App()
env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
OrdersStack(app, "EventweaveOrders", env=env)
ReportsStack(app, "EventweaveReports", env=env)
JobsStack(app, "EventweaveJobs", env=env)
LedgerStack(app, "EventweaveLedger", env=env)
ShowcaseStack(app, "EventweaveShowcase", env=env)
add_checks(app)
app.synth()
