"""What every console page shares: services, sessions, throttle, usage history, templates."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment

from ..domain.models import Account
from ..services.registry import Services
from ..services.signin_throttle import SignInThrottle
from .sampler import Sampler, UsageHistory
from .sessions import SessionStore

OPERATOR_ACCOUNT = "default"  # the account `make run` creates: it may manage accounts


@dataclass
class ConsoleState:
    services: Services
    sessions: SessionStore
    throttle: SignInThrottle
    history: UsageHistory
    sampler: Sampler
    env: Environment

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.services.accounts.list() if a.id == account_id), None)

    def object_regions(self) -> list[str]:
        return [r.code for r in self.services.regions.regions if r.object_store]
