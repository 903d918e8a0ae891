"""The conformance suite's CDK app: plain aws-cdk-lib, no eventweave (see stack.py)."""
