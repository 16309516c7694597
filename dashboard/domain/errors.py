"""Domain errors: what the UI and the hub see of a refusal or a failure, whatever the venue.

    DomainError
    ├── OrderRejected(rule_or_code, message)  refused: by the venue, naming its code
    │   └── OrderRuleError(rule, message)     refused here, before sending, naming the rule
    ├── OrderOutcomeUnknown(client_oid)       sent, fate unknown: reconcile by clientOid
    ├── ExchangeUnavailable(message)          unreachable, timed out, 5xx, rate limited
    └── CredentialsRefused(explanation)       the API key was refused; says what to fix

A venue adapter raises these ``from`` its own errors (``KucoinAccount`` from ``KucoinError``), so
the UI branches on these types only and never on a venue's class names. Imports nothing.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the domain's errors."""


class OrderRejected(DomainError):
    """An order or a cancel was refused; ``rule_or_code`` is the rule (refused here) or the venue's
    code, ``message`` the reason in words."""

    before_sending = False  # True for OrderRuleError: nothing reached the venue

    def __init__(self, rule_or_code: str, message: str) -> None:
        super().__init__(f"{rule_or_code}: {message}")
        self.rule_or_code = rule_or_code
        self.message = message


class OrderRuleError(OrderRejected):
    """An order breaks a symbol rule or a risk limit; ``rule`` names it, ``message`` explains it."""

    before_sending = True

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(rule, message)
        self.rule = rule


class OrderOutcomeUnknown(DomainError):
    """After every attempt and query the order's fate is still unknown; it is reconciled by
    ``client_oid`` later. Sending it again would risk a double."""

    def __init__(self, client_oid: str, reason: str = "") -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(f"order {client_oid}: outcome unknown{why}; "
                         "it will be reconciled by clientOid")
        self.client_oid = client_oid
        self.reason = reason


class ExchangeUnavailable(DomainError):
    """The venue could not be reached, timed out, was rate limiting or failed inside; nothing was
    decided. ``message`` says which, in words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CredentialsRefused(DomainError):
    """The venue refused the API key (key, secret, passphrase, permission, clock);
    ``explanation`` says what to fix."""

    def __init__(self, explanation: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation
