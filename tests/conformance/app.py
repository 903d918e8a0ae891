"""The conformance app: a plain aws-cdk-lib v2 app, as a user would write it (no eventweave imports).

Synthesize it with ``python app.py`` in this folder (``CDK_OUTDIR=cdk.out`` keeps the cloud assembly); the
conformance suite synthesizes it once per session and deploys it to the target under test.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from app.stack import ConformanceStack
from aws_cdk import App

app = App()
ConformanceStack(app, "EventweaveConformance")
app.synth()
