"""The benchmark app (synthesized by the bench/ modules with bundling skipped; each deploys the stacks it needs)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App

from bench.local_app.stack import BenchStack, FifoStack, PeerStack, TrickleStack

app = App()
BenchStack(app, "EventweaveBench")
PeerStack(app, "EventweavePeer")
TrickleStack(app, "EventweaveTrickle")
FifoStack(app, "EventweaveFifo")
app.synth()
