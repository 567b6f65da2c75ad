"""The bank core's YAML seed: loading and validation.

The seed describes the simulated bank, its enterprise customers (with their
direct-connect users, accounts, limits and controls: operators, approval
flows, directed accounts), the accounts at other banks that inter-bank
payments may reach, individuals' accounts at this bank, and the collection
agreements between payers and enterprises. Every error names its path in the
file (``enterprises[0].accounts[1].balance: not an amount``) and nothing is
half-loaded: :func:`load_seed` returns a complete :class:`Seed` or raises.

The two lists that grow large (``personal_accounts``, ``agreements``) may be
kept in CSV files beside the seed; their rows are read, and checked, when the
seed is applied (:mod:`config.seed.csvlist`).

Modules: :mod:`~config.seed.rules` (identifier rules), :mod:`~config.seed.model`
(the values), :mod:`~config.seed.checks` and :mod:`~config.seed.rows` (the
checks), :mod:`~config.seed.controls` (an enterprise's controls),
:mod:`~config.seed.document` (the YAML document),
:mod:`~config.seed.csvlist` (lists in files), :mod:`~config.seed.loader`
(parse and load), :mod:`~config.seed.demo` (the demo seed).
"""

from __future__ import annotations

from config.errors import ConfigError, ConfigRowError
from config.seed.controls import operator_code_problem
from config.seed.csvlist import MAX_ROW_ERRORS, CsvList
from config.seed.demo import DEMO_SEED
from config.seed.loader import load_seed, parse_seed
from config.seed.model import (
    APPROVER_ROLES,
    OPERATOR_ROLES,
    Account,
    Agreement,
    Band,
    BankInfo,
    Directed,
    Enterprise,
    ExternalAccount,
    Flow,
    Levels,
    Limits,
    Operator,
    PersonalAccount,
    PersonalLimits,
    Seed,
)
from config.seed.rules import (
    ACCOUNT_STATUSES,
    AGREEMENT_STATUSES,
    EXTERNAL_STATUSES,
    NAME_MAX_BYTES,
    acno_problem,
    agreement_no_problem,
    bank_no_problem,
    corp_no_problem,
    id_no_problem,
    name_problem,
    user_no_problem,
)

__all__ = [
    "ACCOUNT_STATUSES",
    "AGREEMENT_STATUSES",
    "APPROVER_ROLES",
    "DEMO_SEED",
    "EXTERNAL_STATUSES",
    "MAX_ROW_ERRORS",
    "NAME_MAX_BYTES",
    "OPERATOR_ROLES",
    "Account",
    "Agreement",
    "Band",
    "BankInfo",
    "ConfigError",
    "ConfigRowError",
    "CsvList",
    "Directed",
    "Enterprise",
    "ExternalAccount",
    "Flow",
    "Levels",
    "Limits",
    "Operator",
    "PersonalAccount",
    "PersonalLimits",
    "Seed",
    "acno_problem",
    "agreement_no_problem",
    "bank_no_problem",
    "corp_no_problem",
    "id_no_problem",
    "load_seed",
    "name_problem",
    "operator_code_problem",
    "parse_seed",
    "user_no_problem",
]
