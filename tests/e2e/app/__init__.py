"""The e2e test app: every pattern once, with handlers whose side effects are counted in a DynamoDB table."""
