#!/usr/bin/env python3
"""The example CDK app: `CDK_OUTDIR=cdk.out python app.py` or `npx cdk synth` (CLI aws-cdk@2, see package.json).

Every stack is checked with cdk-nag (AwsSolutions and Serverless packs) during synth: a finding fails it.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment

from eventweave.constructs import add_checks
from examples.showcase.stack import ShowcaseStack

app = App()
env = Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
ShowcaseStack(app, "EventweaveShowcase", env=env)
add_checks(app)
app.synth()
