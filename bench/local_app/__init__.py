"""The benchmark stacks and handlers: BenchStack (local_cloud), PeerStack (ministack_peer), the SQS poller stacks."""
