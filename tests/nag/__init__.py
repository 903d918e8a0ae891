"""Contract checks (eventweave.nag): each rule on plain-CDK stacks, the patterns, `eventweave check`."""
