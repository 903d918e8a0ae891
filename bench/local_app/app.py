"""The benchmark app (synthesized by bench/local_cloud.py with bundling skipped)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App

from bench.local_app.stack import BenchStack

app = App()
BenchStack(app, "EventweaveBench")
app.synth()
