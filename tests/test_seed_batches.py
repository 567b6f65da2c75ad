"""The seed's lists for batches: personal accounts, agreements, external balances, CSV files.

Every rule is checked for the path it reports (and, for a CSV row, the file
and line), since that is what an admin uses to find the mistake.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import ConfigError, ConfigRowError
from config.seed import (
    MAX_ROW_ERRORS,
    Agreement,
    CsvList,
    PersonalAccount,
    id_no_problem,
    load_seed,
    parse_seed,
)
from config.seed.csvlist import _agreement_fast, _personal_fast
from config.seed.rows import RowChecker, RowContext
from protocol.money import format_yuan

CORP = "0000000001"
RCV = "310066726018010000001"
OTHER_RCV = "310066726018010000101"
PAYER = "6222600100000000001"
EXTERNAL = "6222020200000000001"


def minimal() -> dict[str, Any]:
    """A valid seed with one of everything the batches need."""
    return {
        "bank": {"name": "Simulated Bank", "bank_no": "301290000007"},
        "enterprises": [
            {"corp_no": CORP, "name": "Demo Insurance", "users": [{"user_no": "001"}],
             "accounts": [{"acno": RCV, "name": "Demo Insurance"}]},
            {"corp_no": "0000000002", "name": "Demo Trading", "users": [{"user_no": "001"}],
             "accounts": [{"acno": OTHER_RCV, "name": "Demo Trading"}]},
        ],
        "external_accounts": [
            {"acno": EXTERNAL, "name": "Zhang San", "bank_no": "102100099996",
             "bank_name": "ICBC", "balance": "300.00"},
        ],
        "personal_accounts": [
            {"acno": PAYER, "name": "张三", "id_no": "110101199003070011", "balance": "5000.00",
             "status": "active"},
        ],
        "agreements": [
            {"agreement_no": "AG0000000001", "corp_no": CORP, "rcv_acno": RCV,
             "payer_acno": PAYER, "payer_name": "张三", "max_amt": "2000.00",
             "valid_to": "2027-12-31", "status": "active"},
            {"agreement_no": "AG0000000002", "corp_no": CORP, "rcv_acno": RCV,
             "payer_acno": EXTERNAL, "payer_name": "Zhang San"},
        ],
    }


def dump(document: object) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def failure(document: object, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_seed(dump(document), **kwargs)
    return info.value


def assert_error(error: ConfigError, path: str, reason: str) -> None:
    found = [(e.path, e.reason) for e in error.errors]
    assert any(p == path and reason in r for p, r in found), found


def test_the_minimal_seed_parses_with_every_new_key() -> None:
    seed = parse_seed(dump(minimal()))
    assert seed.personal_accounts == (
        PersonalAccount(PAYER, "张三", "110101199003070011", 500_000, "active"),
    )
    first, second = seed.agreements
    assert first == Agreement("AG0000000001", CORP, RCV, PAYER, "张三", 200_000,
                              dt.date(2027, 12, 31), "active")
    assert (second.max_amt, second.valid_to, second.status) == (None, None, "active")
    assert seed.external_accounts[0].balance == 30_000
    assert seed.files == ()


def test_defaults() -> None:
    doc = minimal()
    doc["personal_accounts"][0] = {"acno": PAYER, "name": "张三", "id_no": "11010119900307001X"}
    del doc["external_accounts"][0]["balance"]
    seed = parse_seed(dump(doc))
    assert (seed.personal_accounts[0].balance, seed.personal_accounts[0].status) == (0, "active")
    assert seed.external_accounts[0].balance is None


def test_empty_lists_and_absent_keys() -> None:
    doc = minimal()
    doc["personal_accounts"] = []
    doc["agreements"] = []
    seed = parse_seed(dump(doc))
    assert seed.personal_accounts == () and seed.agreements == ()
    del doc["personal_accounts"], doc["agreements"]
    assert parse_seed(dump(doc)).agreements == ()


# -- every rule, with its path --------------------------------------------------------

P0 = "personal_accounts[0]"
G0 = "agreements[0]"
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


def append_to(key: str, item: dict[str, Any]) -> Mutation:
    return lambda doc: doc[key].append(item)


P = ("personal_accounts", 0)
G = ("agreements", 0)
X = ("external_accounts", 0)
SECOND_PERSON = {"acno": "6222600100000000002", "name": "李四", "id_no": "110101198805120023"}

# fmt: off
RULES: list[tuple[str, Mutation, str, str]] = [
    # personal accounts
    ("personal unknown key", set_at((*P, "balanse"), "1.00"), P0,
     "unknown key 'balanse' (did you mean 'balance'?)"),
    ("personal no id_no", delete_at((*P, "id_no")), P0, "missing required key 'id_no'"),
    ("personal no name", delete_at((*P, "name")), P0, "missing required key 'name'"),
    ("personal not a mapping", set_at(P, "x"), P0, "expected a mapping"),
    ("personal list not a list", set_at(("personal_accounts",), "x"), "personal_accounts",
     "expected a list of personal accounts or {file: personal_accounts.csv}"),
    ("personal acno letters", set_at((*P, "acno"), "62226A"), f"{P0}.acno", "digits only"),
    ("personal acno number", set_at((*P, "acno"), 6222), f"{P0}.acno", "quoted string"),
    ("id_no short", set_at((*P, "id_no"), "11010119900307001"), f"{P0}.id_no",
     "18 characters"),
    ("id_no letters", set_at((*P, "id_no"), "11010119900307A011"), f"{P0}.id_no",
     "17 digits, then a digit or X"),
    ("id_no small x", set_at((*P, "id_no"), "11010119900307001x"), f"{P0}.id_no",
     "capital X"),
    ("id_no X inside", set_at((*P, "id_no"), "1101011990030X0011"), f"{P0}.id_no",
     "17 digits"),
    ("id_no number", set_at((*P, "id_no"), 110101199003070011), f"{P0}.id_no", "quoted"),
    ("personal balance negative", set_at((*P, "balance"), "-1.00"), f"{P0}.balance", "negative"),
    ("personal balance float", set_at((*P, "balance"), 5.5), f"{P0}.balance", "quoted strings"),
    ("personal balance decimals", set_at((*P, "balance"), "1.005"), f"{P0}.balance",
     "two decimals"),
    ("personal status", set_at((*P, "status"), "dormant"), f"{P0}.status",
     "active, frozen, closed"),
    ("personal name pipe", set_at((*P, "name"), "张|三"), f"{P0}.name", "'|'"),
    ("personal twice", append_to("personal_accounts", dict(minimal()["personal_accounts"][0])),
     "personal_accounts[1].acno", f"duplicate account number '{PAYER}' (first used at {P0}.acno)"),
    ("personal is a customer", set_at((*P, "acno"), RCV), f"{P0}.acno",
     "first used at enterprises[0].accounts[0].acno"),
    ("personal is external", set_at((*P, "acno"), EXTERNAL), f"{P0}.acno",
     f"first used at {X0}.acno"),
    # external balances
    ("external balance negative", set_at((*X, "balance"), "-3.00"), f"{X0}.balance", "negative"),
    ("external balance float", set_at((*X, "balance"), 3.0), f"{X0}.balance", "quoted"),
    # agreements
    ("agreement unknown key", set_at((*G, "max_amount"), "1.00"), G0,
     "unknown key 'max_amount' (did you mean 'max_amt'?)"),
    ("agreement no payer_name", delete_at((*G, "payer_name")), G0,
     "missing required key 'payer_name'"),
    ("agreement no rcv_acno", delete_at((*G, "rcv_acno")), G0, "missing required key 'rcv_acno'"),
    ("agreements not a list", set_at(("agreements",), 3), "agreements",
     "expected a list of collection agreements or {file: agreements.csv}"),
    ("agreement_no dash", set_at((*G, "agreement_no"), "AG-1"), f"{G0}.agreement_no",
     "letters and digits only"),
    ("agreement_no long", set_at((*G, "agreement_no"), "A" * 21), f"{G0}.agreement_no",
     "at most 20"),
    ("agreement_no twice", set_at(("agreements", 1, "agreement_no"), "AG0000000001"),
     "agreements[1].agreement_no",
     "duplicate agreement_no 'AG0000000001' (first used at agreements[0].agreement_no)"),
    ("agreement corp unknown", set_at((*G, "corp_no"), "0000000009"), f"{G0}.corp_no",
     "'0000000009' is not an enterprise of this seed"),
    ("agreement account of another", set_at((*G, "rcv_acno"), OTHER_RCV), f"{G0}.rcv_acno",
     f"'{OTHER_RCV}' is not an account of enterprise '{CORP}'"),
    ("agreement account unknown", set_at((*G, "rcv_acno"), "1"), f"{G0}.rcv_acno",
     "not an account of enterprise"),
    ("payer unknown", set_at((*G, "payer_acno"), "6222600100000000009"), f"{G0}.payer_acno",
     "no personal account or external account '6222600100000000009' in the seed"),
    ("payer is an enterprise", set_at((*G, "payer_acno"), OTHER_RCV), f"{G0}.payer_acno",
     "is an enterprise's account (enterprises[1].accounts[0].acno)"),
    ("payer name", set_at((*G, "payer_name"), "李四"), f"{G0}.payer_name",
     f"'李四' is not the name of account '{PAYER}' ('张三')"),
    ("external payer name", set_at(("agreements", 1, "payer_name"), "Li Si"),
     "agreements[1].payer_name", "is not the name of account"),
    ("max_amt zero", set_at((*G, "max_amt"), "0.00"), f"{G0}.max_amt", "positive"),
    ("max_amt float", set_at((*G, "max_amt"), 2000.0), f"{G0}.max_amt", "quoted"),
    ("valid_to", set_at((*G, "valid_to"), "2027-02-30"), f"{G0}.valid_to", "not a valid date"),
    ("valid_to form", set_at((*G, "valid_to"), "31.12.2027"), f"{G0}.valid_to", "YYYY-MM-DD"),
    ("agreement status", set_at((*G, "status"), "expired"), f"{G0}.status", "active, revoked"),
    # lists in files
    ("file and more", set_at(("personal_accounts",), {"file": "p.csv", "sep": ";"}),
     "personal_accounts", "unknown key 'sep'"),
    ("file a path", set_at(("personal_accounts",), {"file": "data/p.csv"}),
     "personal_accounts.file", "bare file name"),
    ("file dot dot", set_at(("agreements",), {"file": ".."}), "agreements.file",
     "bare file name"),
    ("file parent", set_at(("agreements",), {"file": "../a.csv"}), "agreements.file",
     "bare file name"),
    ("file backslash", set_at(("agreements",), {"file": "..\\a.csv"}), "agreements.file",
     "bare file name"),
    ("file absolute", set_at(("agreements",), {"file": "/etc/passwd"}), "agreements.file",
     "bare file name"),
    ("file empty", set_at(("agreements",), {"file": ""}), "agreements.file",
     "expected a file name"),
    ("file number", set_at(("agreements",), {"file": 3}), "agreements.file",
     "expected a file name"),
    ("file from text", set_at(("agreements",), {"file": "a.csv"}), "agreements.file",
     "load the seed from its file"),
]
# fmt: on


@pytest.mark.parametrize(
    ("mutate", "path", "reason"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule_reports_its_path(mutate: Mutation, path: str, reason: str) -> None:
    doc = minimal()
    mutate(doc)
    error = failure(doc)
    assert_error(error, path, reason)
    assert str(error).startswith("<string>: ")


def test_second_personal_account_is_fine_and_agreements_may_share_a_payer() -> None:
    doc = minimal()
    doc["personal_accounts"].append(SECOND_PERSON)
    doc["agreements"].append(dict(doc["agreements"][0], agreement_no="AG3"))
    assert len(parse_seed(dump(doc)).agreements) == 3


def test_id_no_rule_accepts_x_only_at_the_end() -> None:
    assert id_no_problem("11010119900307001X") is None
    assert id_no_problem("110101199003070011") is None
    assert id_no_problem("") is not None


def test_all_problems_at_once_nothing_half_loaded() -> None:
    doc = minimal()
    doc["personal_accounts"][0]["balance"] = "-1"
    doc["agreements"][1]["status"] = "gone"
    doc["external_accounts"][0]["balance"] = "x"
    error = failure(doc)
    assert [e.path for e in error.errors] == [
        "external_accounts[0].balance", "personal_accounts[0].balance", "agreements[1].status"]


# -- CSV lists ----------------------------------------------------------------------

PERSONAL_HEADER = ["acno", "name", "id_no", "balance", "status"]
AGREEMENT_HEADER = ["agreement_no", "corp_no", "rcv_acno", "payer_acno", "payer_name",
                    "max_amt", "valid_to", "status"]


def write_csv(path: Path, rows: list[list[str]], *, bom: bool = False) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path


def seed_with_files(tmp_path: Path, personal: list[list[str]] | None = None,
                    agreements: list[list[str]] | None = None, **kwargs: Any) -> Path:
    doc = minimal()
    if personal is not None:
        write_csv(tmp_path / "people.csv", personal, **kwargs)
        doc["personal_accounts"] = {"file": "people.csv"}
    if agreements is not None:
        write_csv(tmp_path / "deals.csv", agreements, **kwargs)
        doc["agreements"] = {"file": "deals.csv"}
    else:
        doc["agreements"] = []
    path = tmp_path / "seed.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    return path


def person(i: int, **changes: str) -> list[str]:
    row = {"acno": f"62226003{i:011d}", "name": f"张{i}", "id_no": f"110101199003{i:06d}",
           "balance": f"{i}.50", "status": "active"}
    row.update(changes)
    return [row[key] for key in PERSONAL_HEADER]


def read_all(path: Path, key: str) -> list[Any]:
    return list(getattr(load_seed(path), key))


def row_failure(path: Path, key: str) -> ConfigRowError:
    seed = load_seed(path)  # the header is fine: loading succeeds
    with pytest.raises(ConfigRowError) as info:
        list(getattr(seed, key))
    return info.value


def test_csv_rows_stream_as_the_yaml_rows_would(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, [PERSONAL_HEADER, person(1), person(2, status="frozen")])
    seed = load_seed(path)
    assert isinstance(seed.personal_accounts, CsvList)
    assert seed.files == (tmp_path / "people.csv",)
    assert list(seed.personal_accounts) == [
        PersonalAccount("6222600300000000001", "张1", "110101199003000001", 150, "active"),
        PersonalAccount("6222600300000000002", "张2", "110101199003000002", 250, "frozen"),
    ]
    assert list(seed.personal_accounts) == list(seed.personal_accounts)  # read again


def test_csv_with_bom_blank_lines_and_optional_columns_absent(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, [["acno", "name", "id_no"], [], person(1)[:3], [],
                                      person(2)[:3]], bom=True)
    rows = read_all(path, "personal_accounts")
    assert [(r.acno[-1], r.balance, r.status) for r in rows] == [("1", 0, "active"),
                                                                ("2", 0, "active")]


def test_csv_empty_optional_cells_take_the_defaults(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, [PERSONAL_HEADER, person(1, balance="", status="")])
    (row,) = read_all(path, "personal_accounts")
    assert (row.balance, row.status) == (0, "active")


def test_csv_agreements_with_yaml_personal_accounts(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, None, [
        AGREEMENT_HEADER,
        ["AG1", CORP, RCV, PAYER, "张三", "", "", ""],
        ["AG2", CORP, RCV, EXTERNAL, "Zhang San", "10.00", "2030-01-31", "revoked"],
    ])
    first, second = read_all(path, "agreements")
    assert first == Agreement("AG1", CORP, RCV, PAYER, "张三")
    assert second == Agreement("AG2", CORP, RCV, EXTERNAL, "Zhang San", 1_000,
                               dt.date(2030, 1, 31), "revoked")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (["acno", "name", "id_no", "balanse"],
         "unknown column 'balanse' (did you mean 'balance'?)"),
        (["ACNO", "name", "id_no"], "unknown column 'ACNO' (did you mean 'acno'?)"),
        (["acno", "name"], "missing required column 'id_no'"),
        (["acno", "name", "id_no", "name"], "column 'name' appears twice"),
        (["acno", "name", "id_no", ""], "column 4 has no name"),
    ],
)
def test_csv_header_problems_are_found_when_loading(tmp_path: Path, header: list[str],
                                                    reason: str) -> None:
    path = seed_with_files(tmp_path, [header, person(1)[:len(header)]])
    with pytest.raises(ConfigError) as info:
        load_seed(path)
    assert_error(info.value, "personal_accounts", reason)
    assert f"{tmp_path / 'people.csv'}, line 1: personal_accounts: " in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_csv_empty_file(tmp_path: Path, content: bytes) -> None:
    path = seed_with_files(tmp_path, [])
    (tmp_path / "people.csv").write_bytes(content)
    with pytest.raises(ConfigError, match="empty file: expected a header row naming the columns"
                                          " acno, name, id_no, balance, status"):
        load_seed(path)


def test_csv_header_only_is_an_empty_list(tmp_path: Path) -> None:
    assert read_all(seed_with_files(tmp_path, [PERSONAL_HEADER]), "personal_accounts") == []


def test_csv_missing_file_and_not_utf8(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, [PERSONAL_HEADER])
    (tmp_path / "people.csv").unlink()
    with pytest.raises(ConfigError) as info:
        load_seed(path)
    assert_error(info.value, "personal_accounts.file", "no such file")
    (tmp_path / "people.csv").write_bytes("acno,姓名".encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_seed(path)


def test_csv_bad_row_names_its_path_and_line(tmp_path: Path) -> None:
    rows = [PERSONAL_HEADER, *[person(i) for i in range(5)]]
    rows[4] = person(3, balance="-2.00")  # index 3, line 5
    error = row_failure(seed_with_files(tmp_path, rows), "personal_accounts")
    assert isinstance(error, ValueError)
    assert str(error) == (f"{tmp_path / 'people.csv'}, line 5: personal_accounts[3].balance: "
                          "negative amount: '-2.00'")
    assert error.line == 5


def test_csv_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path: Path) -> None:
    rows = [PERSONAL_HEADER, person(0), [], person(1, name="张\n三"), person(2, status="x")]
    error = row_failure(seed_with_files(tmp_path, rows), "personal_accounts")
    found = {(e.path, e.line) for e in error.errors}
    assert found == {("personal_accounts[1].name", 5), ("personal_accounts[2].status", 6)}


def test_csv_every_bad_row_is_reported_and_good_rows_still_stream(tmp_path: Path) -> None:
    rows = [PERSONAL_HEADER, person(0, id_no="1"), person(1), person(2, acno=RCV),
            person(3)[:4]]
    seed = load_seed(seed_with_files(tmp_path, rows))
    errors: list[ConfigError] = []
    good = [row.acno for _, _, row in seed.personal_accounts.located(errors)]
    assert good == ["6222600300000000001"]
    assert [(e.path, e.line) for e in errors] == [
        ("personal_accounts[0].id_no", 2),
        ("personal_accounts[2].acno", 4),
        ("personal_accounts[3]", 5),
    ]
    assert "first used at enterprises[0].accounts[0].acno" in errors[1].reason
    assert errors[2].reason == "4 cells, but the header names 5 columns"


def test_csv_agreement_rows_check_enterprise_and_account(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, None, [
        AGREEMENT_HEADER,
        ["AG1", "0000000009", RCV, PAYER, "张三", "", "", ""],
        ["AG2", CORP, OTHER_RCV, PAYER, "张三", "", "", ""],
        ["AG3", CORP, RCV, PAYER, "李四", "0", "2030-02-31", "gone"],
        ["AG0000000001", CORP, RCV, PAYER, "张三", "", "", ""],
    ])
    error = row_failure(path, "agreements")
    assert [(e.path, e.line) for e in error.errors] == [
        ("agreements[0].corp_no", 2),
        ("agreements[1].rcv_acno", 3),
        ("agreements[2].payer_name", 4),
        ("agreements[2].max_amt", 4),
        ("agreements[2].valid_to", 4),
        ("agreements[2].status", 4),
    ]
    # AG0000000001 is fine: the YAML agreements were replaced by the file.


def test_csv_not_csv_or_not_utf8_after_the_header(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, [PERSONAL_HEADER, person(1)])
    with (tmp_path / "people.csv").open("ab") as f:
        f.write(b'"6222","unclosed\n')
    error = row_failure(path, "personal_accounts")
    assert "not a valid CSV row" in error.reason and error.line == 3
    # Text is decoded ahead of the rows: bad bytes near the start fail the loading,
    write_csv(tmp_path / "people.csv", [PERSONAL_HEADER, ["1", "\xff", "2", "", ""]])
    (tmp_path / "people.csv").write_bytes(
        (tmp_path / "people.csv").read_bytes().replace("\xff".encode(), b"\xff"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_seed(path)
    # ... further on, the reading.
    write_csv(tmp_path / "people.csv", [PERSONAL_HEADER, *[person(i) for i in range(5000)]])
    with (tmp_path / "people.csv").open("ab") as f:
        f.write(b"1,\xff\xfe,2,,\n")
    error = row_failure(path, "personal_accounts")
    assert "not UTF-8 text" in error.reason and 1 < error.line <= 5003


def test_csv_header_changed_since_loading(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, [PERSONAL_HEADER, person(1)])
    seed = load_seed(path)
    write_csv(tmp_path / "people.csv", [PERSONAL_HEADER[:3], person(1)[:3]])
    with pytest.raises(ConfigRowError, match="the header row changed since the seed was loaded"):
        list(seed.personal_accounts)


def test_csv_reading_stops_after_many_problems(tmp_path: Path) -> None:
    rows = [PERSONAL_HEADER, *[person(i, status="x") for i in range(500)]]
    error = row_failure(seed_with_files(tmp_path, rows), "personal_accounts")
    assert len(error.errors) == MAX_ROW_ERRORS + 1
    assert error.errors[-1].reason == f"stopped reading after {MAX_ROW_ERRORS} problems"
    assert len(str(error).splitlines()) == 51  # the summary of ConfigError


def test_csv_find_locates_rows_for_messages(tmp_path: Path) -> None:
    rows = [PERSONAL_HEADER, person(0), [], person(1), person(2)]
    seed = load_seed(seed_with_files(tmp_path, rows))
    assert seed.personal_accounts.find("acno", {"6222600300000000001", "9"}) == {
        "6222600300000000001": (1, 4)}


def test_a_csv_list_in_a_seed_text_without_directory(tmp_path: Path) -> None:
    write_csv(tmp_path / "people.csv", [PERSONAL_HEADER, person(1)])
    doc = minimal()
    doc["personal_accounts"] = {"file": "people.csv"}
    doc["agreements"] = []
    seed = parse_seed(dump(doc), base_dir=tmp_path)
    assert len(list(seed.personal_accounts)) == 1


def test_seeds_with_the_same_files_are_equal(tmp_path: Path) -> None:
    path = seed_with_files(tmp_path, [PERSONAL_HEADER, person(1)])
    assert load_seed(path) == load_seed(path)


# -- properties -------------------------------------------------------------------------

names = st.text(
    alphabet=st.sampled_from([*"张王李赵陈三丰伟芳 ·AZaz-'", "\u3000", "é", "😀"]),
    min_size=1, max_size=20,
).map(str.strip).filter(lambda name: name and len(name.encode("gb18030")) <= 60)
acnos = st.text(alphabet="0123456789", min_size=1, max_size=32)
new_acnos = acnos.filter(lambda acno: acno not in (RCV, OTHER_RCV, EXTERNAL))
id_nos = st.builds(lambda digits, last: digits + last,
                   st.text(alphabet="0123456789", min_size=17, max_size=17),
                   st.sampled_from(list("0123456789X")))
fens = st.integers(min_value=0, max_value=10**16 - 1)


def yuan_variants(fen: int) -> st.SearchStrategy[str]:
    """The ways a CSV may write ``fen`` yuan that all mean it."""
    text = format_yuan(fen)
    forms = [text]
    if fen % 100 == 0:
        forms.append(str(fen // 100))
    if fen % 10 == 0:
        forms.append(text[:-1])
    return st.sampled_from(forms)


people = st.builds(
    PersonalAccount, acno=new_acnos, name=names, id_no=id_nos, balance=fens,
    status=st.sampled_from(["active", "frozen", "closed"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(people, max_size=30, unique_by=lambda p: p.acno), st.data())
def test_generated_personal_csv_round_trips(rows: list[PersonalAccount], data: st.DataObject,
                                            ) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        lines = [PERSONAL_HEADER]
        for row in rows:
            balance = data.draw(yuan_variants(row.balance))
            status = "" if row.status == "active" and data.draw(st.booleans()) else row.status
            lines.append([row.acno, row.name, row.id_no, balance, status])
        doc = minimal()
        doc["personal_accounts"] = {"file": "p.csv"}
        doc["agreements"] = []
        write_csv(base / "p.csv", lines, bom=data.draw(st.booleans()))
        (base / "s.yaml").write_text(dump(doc), encoding="utf-8")
        rows_out = list(load_seed(base / "s.yaml").personal_accounts)
    assert rows_out == rows


agreements_rows = st.builds(
    Agreement,
    agreement_no=st.text(alphabet="AGZ0123456789az", min_size=1, max_size=20),
    corp_no=st.just(CORP), rcv_acno=st.just(RCV), payer_acno=acnos, payer_name=names,
    max_amt=st.none() | st.integers(min_value=1, max_value=10**16 - 1),
    valid_to=st.none() | st.dates(min_value=dt.date(1000, 1, 1)),
    status=st.sampled_from(["active", "revoked"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(agreements_rows, max_size=30, unique_by=lambda a: a.agreement_no))
def test_generated_agreement_csv_round_trips(rows: list[Agreement]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        lines = [AGREEMENT_HEADER] + [
            [a.agreement_no, a.corp_no, a.rcv_acno, a.payer_acno, a.payer_name,
             "" if a.max_amt is None else format_yuan(a.max_amt),
             "" if a.valid_to is None else a.valid_to.isoformat(), a.status] for a in rows]
        doc = minimal()
        doc["personal_accounts"] = {"file": "p.csv"}  # payers are checked when applied
        doc["agreements"] = {"file": "a.csv"}
        write_csv(base / "p.csv", [PERSONAL_HEADER])
        write_csv(base / "a.csv", lines)
        (base / "s.yaml").write_text(dump(doc), encoding="utf-8")
        assert list(load_seed(base / "s.yaml").agreements) == rows


cells = st.one_of(
    st.sampled_from(["", " ", "0", "0.00", "1.5", "12.50", "-1.00", "1.", ".5", "1e3", "١٢",
                     "active", "frozen", "revoked", "X", "2030-12-31", "2030-02-30",
                     "0000000001", RCV, PAYER, EXTERNAL, "张三", "Zhang San", "11010119900307001X",
                     "AG0000000001", "1" * 15, "12345678901234.99", "123456789012345.00"]),
    st.text(max_size=20),
    st.text(alphabet="0123456789.X-", max_size=20),
)


def plausible(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a valid cell, so that whole rows often are; sometimes anything."""
    return st.one_of(valid, valid, valid, valid, cells)


amount_cells = plausible(fens.flatmap(yuan_variants) | st.just(""))
personal_cells = st.tuples(
    plausible(acnos), plausible(names), plausible(id_nos), amount_cells,
    plausible(st.sampled_from(["active", "frozen", "closed", ""]))).map(list)
agreement_cells = st.tuples(
    plausible(st.text(alphabet="AG0123456789", min_size=1, max_size=20)),
    plausible(st.just(CORP)), plausible(st.sampled_from([RCV, OTHER_RCV])),
    plausible(st.sampled_from([PAYER, EXTERNAL])),
    plausible(st.sampled_from(["张三", "Zhang San"])),
    amount_cells, plausible(st.dates().map(dt.date.isoformat) | st.just("")),
    plausible(st.sampled_from(["active", "revoked", ""]))).map(list)


@settings(max_examples=400, deadline=None)
@given(personal_cells)
def test_personal_fast_check_accepts_only_what_the_general_check_accepts(row: list[str]) -> None:
    context = RowContext(acnos={RCV: "enterprises[0].accounts[0].acno"})
    fast = _personal_fast({name: i for i, name in enumerate(PERSONAL_HEADER)}, context)(row)
    if fast is not None:
        checker = RowChecker("<csv>", context, claim=False)
        data = {k: v for k, v in zip(PERSONAL_HEADER, row, strict=True)
                if v or k in ("acno", "name", "id_no")}
        assert checker.personal_account(data, "p[0]") == fast, checker.errors


@settings(max_examples=400, deadline=None)
@given(agreement_cells, st.booleans())
def test_agreement_fast_check_accepts_only_what_the_general_check_accepts(
        row: list[str], payers_known: bool) -> None:
    context = RowContext(enterprise_accounts={CORP: frozenset({RCV})},
                         payers={PAYER: "张三", EXTERNAL: "Zhang San"} if payers_known else None)
    fast = _agreement_fast({name: i for i, name in enumerate(AGREEMENT_HEADER)}, context)(row)
    if fast is not None:
        checker = RowChecker("<csv>", context, claim=False)
        data = {k: v for k, v in zip(AGREEMENT_HEADER, row, strict=True)
                if v or k not in ("max_amt", "valid_to", "status")}
        assert checker.agreement(data, "a[0]") == fast, checker.errors


def test_the_fast_check_takes_the_usual_rows() -> None:
    """So that a million plain rows do not all pay for the general check."""
    context = RowContext()
    fast = _personal_fast({name: i for i, name in enumerate(PERSONAL_HEADER)}, context)
    assert fast(person(7)) == PersonalAccount("6222600300000000007", "张7",
                                              "110101199003000007", 750, "active")
    assert fast(person(7, balance="12")) is not None
    assert fast(person(7, name=" 张7")) is None  # the general check explains why

