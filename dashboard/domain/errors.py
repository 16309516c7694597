"""Domain errors: venue-neutral refusals."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the domain's errors."""


class OrderRuleError(DomainError):
    """An order breaks a symbol rule or a risk limit; ``rule`` names it, ``message`` explains it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
