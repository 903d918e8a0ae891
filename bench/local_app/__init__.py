"""The local-cloud benchmark's app: one queue worker, one SNS-subscribed function and a two-subscriber fan-out."""
