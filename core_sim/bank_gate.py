"""A synchronous bank on worker threads: the in-process way for the core server to use one."""

from __future__ import annotations

import functools
from collections.abc import Callable

import trio

from core_sim.transaction import Reply
from core_sim.transaction import Request as BankRequest


class BankGate:
    """Runs a synchronous :class:`~core_sim.bank.Bank` on worker threads, one call at a time.

    The in-process way to serve a bank (tests, tools); ``directlink core serve``
    uses :class:`~core_sim.bank_process.BankProcess`, which offers the same calls.
    """

    def __init__(self, bank) -> None:
        self.bank = bank
        self._lock = trio.Lock()

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def has_operator(self, corp_no: str, user_no: str) -> bool:
        known = getattr(self.bank, "has_operator", None)
        return True if known is None else known(corp_no, user_no)

    async def execute_batch(self, requests: list[BankRequest]) -> list[Reply]:
        return await self._call(self.bank.execute_batch, requests)

    async def run_clearing(self, *, force_batch: bool = False, scheduled: bool = False):
        return await self._call(functools.partial(self.bank.run_clearing,
                                                  force_batch=force_batch, scheduled=scheduled))

    async def end_of_day(self):
        return await self._call(self.bank.end_of_day)

    async def run_batches(self):
        return await self._call(self.bank.run_batches)

    async def _call(self, fn: Callable, *args):
        async with self._lock:
            return await trio.to_thread.run_sync(fn, *args)
