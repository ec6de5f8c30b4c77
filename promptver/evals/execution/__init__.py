"""What one case runs through: the bundle view, targets, assertions, the providers
and their HTTP transport, the hosts a key may go to, rate limits, the batch APIs, the
call cache, prices and redaction. The runner (evals/runner.py) drives them."""
