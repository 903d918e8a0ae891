"""One module per Lambda function of the reports service; each defines ``handler = X.lambda_handler()``."""
