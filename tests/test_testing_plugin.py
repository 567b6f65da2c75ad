"""The pytest plugin (directlink.testing): its fixtures in generated test modules.

Each generated module runs in a pytester sandbox, as an ERP team's suite would
use the installed plugin (the ``pytest11`` entry point, no conftest.py). Every
bank + client start costs about a second, so the generated modules put
several checks into one run. The ERP client's parsing and the seed handling
are tested without processes.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from directlink.testing.erp import amount, parse_reply, request_xml
from directlink.testing.harness import SeedError, load_seed_spec

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent

SEED_TEXT = """
bank: {name: Text Bank, bank_no: "301290000007"}
enterprises:
  - corp_no: "0000000042"
    name: Text Co
    users: [{user_no: "T1"}]
    accounts:
      - {acno: "6100000001", name: Text Co, balance: "42.00"}
"""


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return result.parseoutcomes()


# -- the plugin in generated test modules -------------------------------------------------


def test_fixtures_seeds_and_factory_in_a_generated_module(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", bank=SEED_TEXT.replace("Text", "File").replace("42.00",
                                                                              "7.00"))
    pytester.makepyfile(textwrap.dedent('''
        from decimal import Decimal
        from pathlib import Path

        import pytest

        TEXT = """%s"""
        DICT = {
            "bank": {"name": "Dict Bank", "bank_no": "301290000007"},
            "enterprises": [{
                "corp_no": "0000000043", "name": "Dict Co", "users": [{"user_no": "D1"}],
                "accounts": [{"acno": "6200000001", "name": "Dict Co",
                              "balance": Decimal("43.50")}],
            }],
        }

        def test_demo_seed_by_default(erp, directlink_client, directlink_bank):
            assert directlink_client.corp_no == "0000000001"
            assert erp.available("310066726018010000001") == Decimal("1000000.00")
            reply = erp.transfer("310066726018010000001", "310066726018010000002",
                                 Decimal("12.50"))
            assert reply.ok and reply["stat"] == "1", reply
            assert erp.over("http").available("310066726018010000002") == \\
                Decimal("250012.50")
            assert directlink_bank.port != 0 and directlink_client.erp_tcp[1] != 0

        @pytest.mark.parametrize("directlink_seed, acno, balance", [
            (TEXT, "6100000001", "42.00"),
            (DICT, "6200000001", "43.50"),
            (Path("bank.yaml").absolute(), "6100000001", "7.00"),
        ], ids=["text", "dict", "path"])
        def test_seed_kinds(erp, directlink_client, acno, balance):
            assert directlink_client.corp_no in ("0000000042", "0000000043")
            assert erp.available(acno) == Decimal(balance)

        def test_bank_alone(directlink_bank):
            assert directlink_bank.check().ok
            assert directlink_bank._spare is None  # no daemon process started for nothing

        @pytest.fixture(scope="session")
        def shared(directlink_factory):
            return directlink_factory.start()

        def test_shared_first(shared):
            assert shared.erp().transfer("310066726018010000001", "310066726018010000002",
                                         "1.00", req_no="SHARED-1").ok

        def test_shared_second(shared):
            # the same bank: the first test's transfer is there
            assert shared.erp().status("SHARED-1")["stat"] == "1"
    ''') % SEED_TEXT)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_teardown_check_fails_a_broken_ledger_unless_switched_off(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent('''
        import sqlite3

        def test_breaks_the_ledger(directlink_bank):
            # Money from nowhere: a balance no posting explains.
            with sqlite3.connect(directlink_bank.home.ledger) as db:
                db.execute("UPDATE accounts SET balance = balance + 1 "
                           "WHERE acno = '310066726018010000001'")
    '''))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_breaks_the_ledger*",
                                 "*directlink core check --home*ledger invariants broken*"])

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--directlink-no-check")
    result.assert_outcomes(passed=1)


def test_a_failing_test_shows_the_processes_stderr(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent('''
        def test_fails(directlink_client):
            assert False, "on purpose"
    '''))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*on purpose*", "*directlink_bank (home *)*",
                                 "*directlink_client (home *)*"])


def test_parallel_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(textwrap.dedent('''
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_transfer(erp, n):
            assert erp.transfer("310066726018010000001", "310066726018010000002",
                                f"{n + 1}.00", req_no=f"X-{n}").ok
    '''))
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


# -- installation and imports -------------------------------------------------------------


def test_the_plugin_is_registered_and_light() -> None:
    entry = [e for e in importlib.metadata.entry_points(group="pytest11")
             if e.name == "directlink"]
    assert [e.value for e in entry] == ["directlink.testing.plugin"]
    # Loaded into every pytest run: it must not import directlink's machinery.
    code = ("import sys, directlink.testing.plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('trio', 'core_sim', 'daemon', 'protocol', 'config', 'cryptography')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_only_the_plugin_imports_pytest() -> None:
    offenders = []
    for path in sorted((REPO / "directlink").rglob("*.py")):
        if path == REPO / "directlink/testing/plugin.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "import pytest" in text or "from pytest" in text or "from _pytest" in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_the_launcher_exits_quietly_when_not_needed() -> None:
    result = subprocess.run([sys.executable, "-m", "directlink.testing.launcher", "daemon"],
                            input=b"", capture_output=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


# -- seeds, without processes --------------------------------------------------------------


def test_seed_kinds_and_errors(tmp_path: Path) -> None:
    assert load_seed_spec(None).corp_no == "0000000001"
    assert load_seed_spec(SEED_TEXT).user_no == "T1"
    path = tmp_path / "bank.yaml"
    path.write_text(SEED_TEXT, encoding="utf-8")
    assert load_seed_spec(path).path == path
    bad = SEED_TEXT.replace('"42.00"', '"4.2.0"')
    with pytest.raises(SeedError, match=r"enterprises\[0\]\.accounts\[0\]\.balance"):
        load_seed_spec(bad)
    with pytest.raises(TypeError, match="float"):
        load_seed_spec({"bank": {"name": "B", "bank_no": "301290000007"},
                        "enterprises": [{"accounts": [{"balance": 1.5}]}]})


# -- the ERP client, without processes ------------------------------------------------------


def test_amounts_are_never_floats() -> None:
    assert amount(Decimal("12.5")) == "12.50"
    assert amount(3) == "3.00"
    assert amount("1.005") == "1.005"  # sent as given: the daemon refuses it (E002)
    assert amount(Decimal("1.005")) == "1.005"
    with pytest.raises(TypeError):
        amount(1.5)  # type: ignore[arg-type]


def test_requests_and_replies_round_trip_in_gbk() -> None:
    xml = request_xml("330002", {"pay_acno": "1", "summary": "工资"},
                      items=[{"card_no": "62", "acname": "张三", "amt": "1.00"}],
                      req_no="R1")
    assert xml.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    assert "<tran><rcd><card_no>62</card_no><acname>张三</acname>".encode("gbk") in xml
    reply = parse_reply(
        '<?xml version="1.0" encoding="GBK"?><ap><head><tr_code>310101</tr_code>'
        '<req_no>R1</req_no><ans_code>0</ans_code><particular_code>0000</particular_code>'
        '<particular_info>ok</particular_info></head><body>'
        '<serial_record>户名|余额|甲|1.00|</serial_record><field_num>2</field_num>'
        '<record_num>1</record_num><tran><rcd><busino>S1</busino><sucFlg>F</sucFlg></rcd>'
        '</tran></body></ap>'.encode("gbk"))
    assert reply.ok and reply.req_no == "R1" and reply["record_num"] == "1"
    assert reply.table() == [{"户名": "甲", "余额": "1.00"}]
    assert reply.items == [{"busino": "S1", "sucFlg": "F"}]
