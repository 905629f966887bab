"""Reading balances for verify mode, the way an operator does: through a command.

What lives here: `BalanceReader` (the interface verify mode needs), `CommandBalances`
(runs an operator command such as ``ocs account show {msisdn} --db URL --json`` and reads
its ``balance`` field) and `parse_amount`. What must not: database access or imports of
ocs/ or storage/: the simulator is a black box to the OCS, so it reads what an operator
can read. Tests may pass any other `BalanceReader` (e.g. one over typer's CliRunner).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from decimal import Decimal, InvalidOperation
from typing import Protocol

#: what ``ocs account show --json`` prints; {msisdn} is replaced
DEFAULT_COMMAND = "ocs account show {msisdn} --json"


class BalanceError(RuntimeError):
    """The balance could not be read."""


class BalanceReader(Protocol):
    def balance(self, msisdn: str) -> Decimal:
        """The committed balance in the account currency (blocking: run it in a thread)."""
        ...


def parse_amount(text: str) -> Decimal:
    """A decimal amount from a CLI option or JSON string; never through float."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {text!r}")
    return value


class CommandBalances:
    """Runs ``template`` (shell words, ``{msisdn}`` substituted) and reads ``balance``."""

    def __init__(self, template: str, *, timeout: float = 30.0) -> None:
        if "{msisdn}" not in template:
            raise ValueError("the balance command must contain {msisdn}")
        self.words = shlex.split(template)
        self.timeout = timeout

    def balance(self, msisdn: str) -> Decimal:
        argv = [word.replace("{msisdn}", msisdn) for word in self.words]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BalanceError(f"{argv[0]}: {exc}") from None
        if done.returncode != 0:
            raise BalanceError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
        try:
            view = json.loads(done.stdout)  # --json: one object, possibly indented
            return parse_amount(str(view["balance"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BalanceError(f"no balance in the output of {' '.join(argv)}: {exc}") from None
