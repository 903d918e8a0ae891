"""The e2e test app (`tests/e2e`): synthesized by the eventweave pytest plugin, deployed into the local cloud."""

import os
import sys
from pathlib import Path

# The app lives inside the test suite; its handlers are the package `tests.e2e.app`, importable from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App

from tests.e2e.app.stack import E2EStack

app = App()
E2EStack(app, "EventweaveE2E")
app.synth()
