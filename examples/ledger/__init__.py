"""ledger: account events appended to DynamoDB with optimistic locking, a balance projection fed by the table's
stream, domain events on an EventBridge bus, and a recursion guard that stops a mis-wired overdraft-fee loop.

See README.md in this folder; ``LedgerStack`` (stack.py) is the deployable unit, ``ledger.append`` the write path.
"""
