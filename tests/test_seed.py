"""The core's YAML seed: the demo seed, every validation rule, and robustness.

Each rule is checked for the exact path it reports, since that path is what
an admin uses to find the mistake in the file.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import ConfigError
from config.seed import (
    DEMO_SEED,
    Account,
    ExternalAccount,
    Limits,
    Seed,
    load_seed,
    parse_seed,
)

ROOT = Path(__file__).resolve().parent.parent


def minimal() -> dict[str, Any]:
    """The smallest valid seed, as the Python structure YAML would load."""
    return {
        "bank": {"name": "Simulated Bank", "bank_no": "301290000007"},
        "enterprises": [
            {
                "corp_no": "0000000001",
                "name": "Demo Insurance Co., Ltd.",
                "users": [{"user_no": "001"}],
                "accounts": [{"acno": "310066726018010000001", "name": "Demo Insurance"}],
            }
        ],
        "external_accounts": [
            {
                "acno": "6222020200000000001",
                "name": "Zhang San",
                "bank_no": "102100099996",
                "bank_name": "ICBC Beijing Branch",
            }
        ],
    }


def dump(document: object) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def failure(document: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_seed(dump(document) if not isinstance(document, str) else document)
    return info.value


def assert_error(error: ConfigError, path: str, reason: str) -> None:
    """``error`` lists a problem at exactly ``path`` whose reason contains ``reason``."""
    found = [(e.path, e.reason) for e in error.errors]
    assert any(p == path and reason in r for p, r in found), found
    assert f"<string>: {path}: " in str(error) or (path == "" and "<string>: " in str(error))


# -- the demo seed ----------------------------------------------------------


def test_demo_seed_parses_to_the_documented_bank() -> None:
    seed = parse_seed(DEMO_SEED)
    assert seed.bank.name == "Simulated Bank"
    assert seed.bank.bank_no == "301290000007"
    assert seed.bank.business_date is None
    insurance, trading = seed.enterprises
    assert insurance.corp_no == "0000000001"
    assert insurance.name == "Demo Insurance Co., Ltd."
    assert insurance.users == ("001",)
    assert insurance.limits == Limits(single=500_000_000, daily=2_000_000_000)
    assert [(a.acno, a.balance, a.status) for a in insurance.accounts] == [
        ("310066726018010000001", 100_000_000, "active"),
        ("310066726018010000002", 25_000_000, "active"),
        ("310066726018010000003", 500_000, "frozen"),
    ]
    assert all(a.currency == "CNY" and a.hold == 0 for a in insurance.accounts)
    assert trading.corp_no == "0000000002"
    assert trading.name == "Demo Trading Co., Ltd."
    assert trading.users == ("001",)
    assert trading.limits == Limits()
    assert trading.accounts == (
        Account("310066726018010000101", "Demo Trading Co., Ltd.", "CNY", 50_000_000),
    )
    assert seed.external_accounts == (
        ExternalAccount(
            "6222020200000000001", "Zhang San", "102100099996", "ICBC Beijing Branch", "active"
        ),
        ExternalAccount("6222020200000000002", "Li Si", "102100099996", "ICBC", "active"),
        ExternalAccount(
            "6217000010000000003",
            "Wang Wu",
            "105100000017",
            "China Construction Bank Beijing",
            "closed",
        ),
        ExternalAccount("6222020200000000004", "Zhao Liu", "102100099996",
                        "ICBC Beijing Branch", "active", balance=30_000),
    )
    # Enough to demonstrate batches: payees and payers in every state.
    assert [(p.acno[-1], p.balance, p.status) for p in seed.personal_accounts] == [
        ("1", 500_000, "active"),
        ("2", 1_200_000, "active"),
        ("3", 1_000, "active"),
        ("4", 300_000, "frozen"),
        ("5", 0, "closed"),
    ]
    agreements = seed.agreements
    assert {a.rcv_acno for a in agreements} == {"310066726018010000001"}
    assert [a.status for a in agreements].count("revoked") == 1
    assert any(a.valid_to is not None and a.valid_to < dt.date(2026, 1, 1) for a in agreements)
    assert min(a.max_amt for a in agreements if a.max_amt is not None) == 10_000
    assert {a.payer_acno for a in agreements} >= {"6222020200000000001", "6222020200000000004"}


def test_demo_seed_file_matches_the_constant() -> None:
    path = ROOT / "etc" / "seed-demo.yaml"
    assert load_seed(path) == parse_seed(DEMO_SEED)
    assert "#" in path.read_text(encoding="utf-8")  # the sample is commented


def test_design_example_parses() -> None:
    text = """
bank:
  name: Simulated Bank
  bank_no: "301290000007"        # this bank's 12-digit routing number
  business_date: "2026-11-24"    # optional; default: today
enterprises:
  - corp_no: "0000000001"
    name: Demo Insurance Co., Ltd.
    users:
      - user_no: "001"
    limits:
      single: "5000000.00"
      daily: "20000000.00"
    accounts:
      - acno: "310066726018010000001"
        name: Demo Insurance Co., Ltd.
        currency: CNY
        balance: "1000000.00"
        opened: "2020-01-01"
external_accounts:
  - acno: "6222020200000000001"
    name: Zhang San
    bank_no: "102100099996"
    bank_name: ICBC Beijing Branch
    status: active
"""
    seed = parse_seed(text)
    assert seed.bank.business_date == dt.date(2026, 11, 24)
    assert seed.enterprises[0].accounts[0].opened == dt.date(2020, 1, 1)
    assert seed.enterprises[0].accounts[0].balance == 100_000_000


def test_optional_extensions() -> None:
    doc = minimal()
    account = doc["enterprises"][0]["accounts"][0]
    account.update(balance="100.00", hold="25.50", status="closed", currency="USD")
    doc["bank"]["business_date"] = dt.date(2026, 1, 2)  # unquoted YAML date
    doc["external_accounts"][0]["status"] = "closed"
    seed = parse_seed(dump(doc))
    parsed = seed.enterprises[0].accounts[0]
    assert (parsed.balance, parsed.hold, parsed.status, parsed.currency) == (
        10_000,
        2_550,
        "closed",
        "USD",
    )
    assert seed.bank.business_date == dt.date(2026, 1, 2)
    assert seed.external_accounts[0].status == "closed"


def test_defaults_and_null_optionals() -> None:
    doc = minimal()
    doc["enterprises"][0]["limits"] = None  # every entry commented out
    doc["external_accounts"] = None
    seed = parse_seed(dump(doc))
    account = seed.enterprises[0].accounts[0]
    assert (account.currency, account.balance, account.hold, account.status) == (
        "CNY",
        0,
        0,
        "active",
    )
    assert account.opened is None
    assert seed.enterprises[0].limits == Limits()
    assert seed.external_accounts == ()


def test_zero_balance_is_allowed() -> None:
    doc = minimal()
    doc["enterprises"][0]["accounts"][0]["balance"] = "0.00"
    assert parse_seed(dump(doc)).enterprises[0].accounts[0].balance == 0


def test_one_limit_alone() -> None:
    doc = minimal()
    doc["enterprises"][0]["limits"] = {"daily": "100.00"}
    assert parse_seed(dump(doc)).enterprises[0].limits == Limits(single=None, daily=10_000)


# -- every rule, with its path ------------------------------------------------

E0 = "enterprises[0]"
A0 = "enterprises[0].accounts[0]"
X0 = "external_accounts[0]"

Mutation = Callable[[dict[str, Any]], None]


def set_at(path: tuple[Any, ...], value: object) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def delete_at(path: tuple[Any, ...]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


ACC = ("enterprises", 0, "accounts", 0)
ENT = ("enterprises", 0)
EXT = ("external_accounts", 0)

# fmt: off
RULES: list[tuple[str, Mutation, str, str]] = [
    # unknown keys, everywhere
    ("unknown top key", set_at(("bankk",), 1), "", "unknown key 'bankk'"),
    ("unknown bank key", set_at(("bank", "nmae"), "x"), "bank", "unknown key 'nmae'"),
    ("unknown enterprise key", set_at((*ENT, "limit"), {}), E0, "unknown key 'limit'"),
    ("unknown account key", set_at((*ACC, "balanse"), "1.00"), A0, "unknown key 'balanse'"),
    ("unknown user key", set_at((*ENT, "users", 0, "name"), "x"), f"{E0}.users[0]", "'name'"),
    ("unknown limits key", set_at((*ENT, "limits"), {"weekly": "1.00"}), f"{E0}.limits", "weekly"),
    ("unknown external key", set_at((*EXT, "bic"), "x"), X0, "unknown key 'bic'"),
    # required keys
    ("no bank", delete_at(("bank",)), "", "missing required key 'bank'"),
    ("no enterprises", delete_at(("enterprises",)), "", "missing required key 'enterprises'"),
    ("no bank name", delete_at(("bank", "name")), "bank", "missing required key 'name'"),
    ("no bank_no", delete_at(("bank", "bank_no")), "bank", "missing required key 'bank_no'"),
    ("no corp_no", delete_at((*ENT, "corp_no")), E0, "missing required key 'corp_no'"),
    ("no enterprise name", delete_at((*ENT, "name")), E0, "missing required key 'name'"),
    ("no users", delete_at((*ENT, "users")), E0, "missing required key 'users'"),
    ("no accounts", delete_at((*ENT, "accounts")), E0, "missing required key 'accounts'"),
    ("no acno", delete_at((*ACC, "acno")), A0, "missing required key 'acno'"),
    ("no account name", delete_at((*ACC, "name")), A0, "missing required key 'name'"),
    ("no user_no", delete_at((*ENT, "users", 0, "user_no")), f"{E0}.users[0]", "'user_no'"),
    ("no external acno", delete_at((*EXT, "acno")), X0, "missing required key 'acno'"),
    ("no external bank_no", delete_at((*EXT, "bank_no")), X0, "'bank_no'"),
    ("no external bank_name", delete_at((*EXT, "bank_name")), X0, "'bank_name'"),
    ("null required", set_at((*ACC, "name"), None), f"{A0}.name", "must not be empty"),
    # counts
    ("no enterprise", set_at(("enterprises",), []), "enterprises", "at least one enterprise"),
    ("no user", set_at((*ENT, "users"), []), f"{E0}.users", "at least one user"),
    ("no account", set_at((*ENT, "accounts"), []), f"{E0}.accounts", "at least one account"),
    # shapes
    ("enterprises not a list", set_at(("enterprises",), {}), "enterprises", "expected a list"),
    ("account not a mapping", set_at(ACC, "x"), A0, "expected a mapping"),
    ("bank not a mapping", set_at(("bank",), ["x"]), "bank", "expected a mapping"),
    ("externals not a list", set_at(("external_accounts",), "x"), "external_accounts", "list"),
    # bank_no
    ("bank_no short", set_at(("bank", "bank_no"), "30129000000"), "bank.bank_no", "exactly 12"),
    ("bank_no long", set_at(("bank", "bank_no"), "3012900000071"), "bank.bank_no", "exactly 12"),
    ("bank_no letters", set_at(("bank", "bank_no"), "30129000000X"), "bank.bank_no", "digits"),
    ("bank_no number", set_at(("bank", "bank_no"), 301290000007), "bank.bank_no", "quoted"),
    ("external bank_no", set_at((*EXT, "bank_no"), "1021"), f"{X0}.bank_no", "exactly 12"),
    ("external is us", set_at((*EXT, "bank_no"), "301290000007"), f"{X0}.bank_no", "own"),
    # corp_no / user_no / acno
    ("corp_no long", set_at((*ENT, "corp_no"), "1" * 21), f"{E0}.corp_no", "1-20 digits"),
    ("corp_no letters", set_at((*ENT, "corp_no"), "12a"), f"{E0}.corp_no", "digits only"),
    ("corp_no empty", set_at((*ENT, "corp_no"), ""), f"{E0}.corp_no", "must not be empty"),
    ("corp_no number", set_at((*ENT, "corp_no"), 1), f"{E0}.corp_no", "leading zeros"),
    ("user_no long", set_at((*ENT, "users", 0, "user_no"), "u" * 21), f"{E0}.users[0].user_no",
     "at most 20"),
    ("user_no dash", set_at((*ENT, "users", 0, "user_no"), "0-1"), f"{E0}.users[0].user_no",
     "letters and digits"),
    ("user_no number", set_at((*ENT, "users", 0, "user_no"), 1), f"{E0}.users[0].user_no",
     "quoted string"),
    ("acno long", set_at((*ACC, "acno"), "1" * 33), f"{A0}.acno", "1-32 digits"),
    ("acno letters", set_at((*ACC, "acno"), "31006672601801000000A"), f"{A0}.acno", "digits"),
    ("external acno", set_at((*EXT, "acno"), "62-22"), f"{X0}.acno", "digits only"),
    # names
    ("name empty", set_at((*ACC, "name"), ""), f"{A0}.name", "must not be empty"),
    ("name blank", set_at((*ENT, "name"), "   "), f"{E0}.name", "must not be empty"),
    ("name 61 bytes", set_at((*ACC, "name"), "x" * 61), f"{A0}.name", "61 bytes"),
    ("name 62 bytes GB18030", set_at((*ACC, "name"), "保" * 31), f"{A0}.name", "62 bytes"),
    ("name pipe", set_at((*ACC, "name"), "A|B"), f"{A0}.name", "'|'"),
    ("name newline", set_at(("bank", "name"), "A\nB"), "bank.name", "'\\n'"),
    ("name number", set_at((*EXT, "name"), 12), f"{X0}.name", "quoted string"),
    ("name boolean", set_at((*EXT, "name"), True), f"{X0}.name", "boolean"),
    ("bank_name long", set_at((*EXT, "bank_name"), "y" * 61), f"{X0}.bank_name", "61 bytes"),
    # currency
    ("currency lower", set_at((*ACC, "currency"), "cny"), f"{A0}.currency", "3 capital"),
    ("currency long", set_at((*ACC, "currency"), "CNYY"), f"{A0}.currency", "3 capital"),
    # amounts
    ("balance float", set_at((*ACC, "balance"), 1000.5), f"{A0}.balance",
     'amounts must be quoted strings such as "1000.00"'),
    ("balance int", set_at((*ACC, "balance"), 1000), f"{A0}.balance",
     'amounts must be quoted strings such as "1000.00"'),
    ("balance decimals", set_at((*ACC, "balance"), "1.234"), f"{A0}.balance", "two decimals"),
    ("balance negative", set_at((*ACC, "balance"), "-1.00"), f"{A0}.balance", "negative"),
    ("balance text", set_at((*ACC, "balance"), "lots"), f"{A0}.balance", "not an amount"),
    ("balance huge", set_at((*ACC, "balance"), "1" * 15), f"{A0}.balance", "too large"),
    ("hold negative", set_at((*ACC, "hold"), "-1"), f"{A0}.hold", "negative"),
    ("hold over balance", set_at((*ACC, "hold"), "0.01"), f"{A0}.hold", "exceeds the balance"),
    ("limit zero", set_at((*ENT, "limits"), {"single": "0.00"}), f"{E0}.limits.single",
     "positive"),
    ("limit negative", set_at((*ENT, "limits"), {"daily": "-5.00"}), f"{E0}.limits.daily",
     "negative"),
    ("limit float", set_at((*ENT, "limits"), {"daily": 5.0}), f"{E0}.limits.daily", "quoted"),
    ("single over daily", set_at((*ENT, "limits"), {"single": "2.00", "daily": "1.00"}),
     f"{E0}.limits.single", "exceeds the daily limit"),
    # statuses and dates
    ("account status", set_at((*ACC, "status"), "dormant"), f"{A0}.status",
     "active, frozen, closed"),
    ("external status", set_at((*EXT, "status"), "frozen"), f"{X0}.status", "active, closed"),
    ("opened bad day", set_at((*ACC, "opened"), "2020-02-30"), f"{A0}.opened", "not a valid"),
    ("opened format", set_at((*ACC, "opened"), "2020/01/01"), f"{A0}.opened", "YYYY-MM-DD"),
    ("opened datetime", set_at((*ACC, "opened"), dt.datetime(2020, 1, 1, 9)), f"{A0}.opened",
     "date and time"),
    ("business_date", set_at(("bank", "business_date"), "24.11.2026"), "bank.business_date",
     "YYYY-MM-DD"),
]
# fmt: on


@pytest.mark.parametrize(
    ("mutate", "path", "reason"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule_reports_its_path(mutate: Mutation, path: str, reason: str) -> None:
    doc = minimal()
    mutate(doc)
    assert_error(failure(doc), path, reason)


def test_unknown_key_message_is_exact() -> None:
    doc = minimal()
    doc["enterprises"][0]["accounts"][0]["balanse"] = "1.00"
    error = failure(doc)
    assert str(error).startswith(
        "<string>: enterprises[0].accounts[0]: unknown key 'balanse' (did you mean 'balance'?)"
    )


def test_duplicate_corp_no_names_both_places() -> None:
    doc = minimal()
    second = copy.deepcopy(doc["enterprises"][0])
    second["accounts"][0]["acno"] = "2"
    doc["enterprises"].append(second)
    assert_error(failure(doc), "enterprises[1].corp_no", "(first used at enterprises[0].corp_no)")


def test_duplicate_user_no_within_an_enterprise() -> None:
    doc = minimal()
    doc["enterprises"][0]["users"] = [{"user_no": "001"}, {"user_no": "002"}, {"user_no": "001"}]
    assert_error(
        failure(doc),
        "enterprises[0].users[2].user_no",
        "duplicate user_no '001' (first used at enterprises[0].users[0].user_no)",
    )


def test_same_user_no_in_two_enterprises_is_fine() -> None:
    seed = parse_seed(DEMO_SEED)
    assert seed.enterprises[0].users == seed.enterprises[1].users == ("001",)


def test_duplicate_acno_within_an_enterprise() -> None:
    doc = minimal()
    accounts = doc["enterprises"][0]["accounts"]
    accounts.append(dict(accounts[0]))
    assert_error(
        failure(doc),
        "enterprises[0].accounts[1].acno",
        "duplicate account number '310066726018010000001' "
        "(first used at enterprises[0].accounts[0].acno)",
    )


def test_duplicate_acno_across_enterprises() -> None:
    doc = minimal()
    second = copy.deepcopy(doc["enterprises"][0])
    second["corp_no"] = "0000000002"
    doc["enterprises"].append(second)
    assert_error(
        failure(doc), "enterprises[1].accounts[0].acno", "first used at enterprises[0].accounts[0]"
    )


def test_duplicate_acno_between_enterprise_and_external() -> None:
    doc = minimal()
    doc["external_accounts"][0]["acno"] = "310066726018010000001"
    assert_error(failure(doc), "external_accounts[0].acno", "first used at enterprises[0]")


def test_duplicate_acno_between_externals() -> None:
    doc = minimal()
    doc["external_accounts"].append(dict(doc["external_accounts"][0]))
    assert_error(
        failure(doc), "external_accounts[1].acno", "first used at external_accounts[0].acno"
    )


def test_yaml_anchor_reused_as_two_accounts_is_a_duplicate() -> None:
    text = dump(minimal()).replace(
        "  accounts:\n", "  accounts:\n  - &a {acno: '9', name: N}\n  - *a\n", 1
    )
    assert_error(failure(text), "enterprises[0].accounts[1].acno", "duplicate account number")


# -- documents that are not a seed --------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ("", "", "the seed is empty"),
        ("# only a comment\n", "", "the seed is empty"),
        ("- a\n- b\n", "", "expected a mapping"),
        ("just text", "", "expected a mapping"),
        ("bank: [\n", "line 2, column 1", "not valid YAML"),
        ("bank:\n  name: a\n  name: b\n", "line 3, column 3", "duplicate key 'name'"),
        ("bank:\n  business_date: 2026-13-01\n", "line 2, column 18", "month must be in 1..12"),
        ("bank: !!python/object:os.system {}\n", "line 1, column 7", "not valid YAML"),
        ("{[1]: 2}\n", "line 1, column 2", "unhashable key"),
    ],
)
def test_not_a_seed(text: str, path: str, reason: str) -> None:
    error = failure(text)
    assert error.path == path
    assert reason in error.reason


def test_all_errors_are_reported_at_once() -> None:
    doc = minimal()
    doc["bank"]["bank_no"] = "1"
    doc["enterprises"][0]["accounts"][0]["balance"] = 1.5
    doc["external_accounts"][0]["status"] = "gone"
    error = failure(doc)
    assert [e.path for e in error.errors] == [
        "bank.bank_no",
        "enterprises[0].accounts[0].balance",
        "external_accounts[0].status",
    ]
    lines = str(error).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("<string>: ") for line in lines)
    # The collected error still reads as its first problem.
    assert (error.source, error.path) == ("<string>", "bank.bank_no")


def test_a_single_late_error_loads_nothing() -> None:
    doc = minimal()
    doc["external_accounts"].append(dict(doc["external_accounts"][0], acno="7", status="x"))
    with pytest.raises(ConfigError):
        parse_seed(dump(doc))


def test_seed_objects_are_immutable() -> None:
    seed = parse_seed(DEMO_SEED)
    with pytest.raises(AttributeError):
        seed.enterprises[0].accounts[0].balance = 0  # type: ignore[misc]


# -- files ----------------------------------------------------------------------


def test_load_seed_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    doc = minimal()
    doc["enterprises"][0]["accounts"][0]["balance"] = "-1"
    path.write_text(dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_seed(path)
    assert str(info.value).startswith(f"{path}: enterprises[0].accounts[0].balance: ")


def test_load_seed_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_seed(tmp_path / "nope.yaml")


def test_load_seed_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_bytes(dump(minimal()).replace("Zhang San", "张三").encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_seed(path)


def test_load_seed_utf8_with_bom_and_chinese_names(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    doc = minimal()
    doc["external_accounts"][0]["name"] = "张三"
    path.write_bytes(b"\xef\xbb\xbf" + dump(doc).encode("utf-8"))
    assert load_seed(path).external_accounts[0].name == "张三"


def test_thirty_chinese_characters_fit() -> None:
    doc = minimal()
    doc["enterprises"][0]["accounts"][0]["name"] = "保" * 30  # 60 bytes in GB18030
    assert parse_seed(dump(doc)).enterprises[0].accounts[0].name == "保" * 30


# -- robustness -------------------------------------------------------------------

KEYS = [
    "bank", "enterprises", "external_accounts", "name", "bank_no", "business_date",
    "corp_no", "users", "user_no", "limits", "single", "daily", "accounts", "acno",
    "currency", "balance", "opened", "status", "hold", "bank_name",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["0.00", "1.5", "-1", "CNY", "active", "frozen", "001", "301290000007"]),
    st.dates(),
    st.datetimes(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=4))
def test_random_mappings_only_raise_config_error(document: dict[str, Any]) -> None:
    try:
        result = parse_seed(dump(document))
    except ConfigError as error:
        assert str(error)
    else:
        assert isinstance(result, Seed)


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for key, child in node.items() for p in leaf_paths(child, (*prefix, key))]
    if isinstance(node, list):
        return [p for i, child in enumerate(node) for p in leaf_paths(child, (*prefix, i))]
    return [prefix]


DEMO_DOCUMENT = yaml.safe_load(DEMO_SEED)
DEMO_LEAVES = leaf_paths(DEMO_DOCUMENT)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DEMO_LEAVES), values)
def test_mutated_demo_only_raises_config_error(path: tuple[Any, ...], value: object) -> None:
    doc = copy.deepcopy(DEMO_DOCUMENT)
    set_at(path, value)(doc)
    try:
        parse_seed(dump(doc))
    except ConfigError as error:
        assert all(e.reason and e.source == "<string>" for e in error.errors)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"# \n\t0123.,?%@`")), max_size=80))
def test_random_text_only_raises_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_seed(text)


def test_deep_nesting_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_seed("bank: " + "[" * 5000 + "]" * 5000)


def test_a_flood_of_errors_is_summarised() -> None:
    doc = minimal()
    doc["enterprises"][0]["accounts"] = [{"acno": "1", "name": "N"}] * 60
    error = failure(doc)
    assert len(error.errors) == 59  # every copy after the first is a duplicate
    lines = str(error).splitlines()
    assert len(lines) == 51
    assert lines[-1] == "<string>: ... and 9 more problems"
