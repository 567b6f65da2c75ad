"""Batch files in the exchange folder: names, line formats, GBK, segments, result files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon import batch_files as bf
from daemon.batch_files import BatchFileError
from protocol.money import format_yuan


def _file(tmp_path, text: str, name: str = "batch.txt", encoding: str = "gbk"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "a/b.txt", "a\\b.txt",
                                  ".hidden", "", "..", "a b.txt", "x" * 200, "工资.txt"])
def test_only_a_bare_name_in_the_folder_is_accepted(tmp_path, name):
    with pytest.raises(BatchFileError) as caught:
        bf.exchange_path(tmp_path, name)
    assert caught.value.code.code == "D010"


def test_a_missing_file_is_d010_naming_the_folder(tmp_path):
    with pytest.raises(BatchFileError, match=r"no file premiums\.txt") as caught:
        bf.exchange_path(tmp_path, "premiums.txt")
    assert str(tmp_path) in caught.value.info


def test_gbk_lines_with_blank_lines_a_bom_and_crlf(tmp_path):
    text = "\ufeff6222600100000000001,张三,AG01,12.5,b1\r\n\r\n" \
           "6222600100000000002,李四,AG02,0.01,b2,102100099996\r\n"
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("utf-8")[:3] + text[1:].encode("gbk"))
    assert bf.scan(path, bf.COLLECTION) == bf.Scan(2, 1251)
    [segment] = list(bf.segments(path, bf.COLLECTION))
    assert segment == [
        {"pay_acno": "6222600100000000001", "pay_acname": "张三", "agreement_no": "AG01",
         "amt": 1250, "busino": "b1", "pay_bank_no": ""},
        {"pay_acno": "6222600100000000002", "pay_acname": "李四", "agreement_no": "AG02",
         "amt": 1, "busino": "b2", "pay_bank_no": "102100099996"},
    ]


@pytest.mark.parametrize(("line", "why"), [
    ("6222,张三,12.345,p1", "amt must be yuan with at most two decimals"),
    ("6222,张三,-1,p1", "amt must be"),
    ("6222,张三,0.00,p1", "amount must be positive"),
    ("6222,张三,1.00", "3 columns, expected 4"),
    ("6222,张三,1.00,p1,extra", "5 columns, expected 4"),
    ("6222 1,张三,1.00,p1", "card_no must be at most 21"),
    ("6222,张|三,1.00,p1", "acname must be a name"),
    ("6222,张三,1.00," + "b" * 21, "busino must be 1 to 20"),
    ("6222," + "张" * 31 + ",1.00,p1", "name longer than 60 bytes"),
])
def test_a_bad_payment_line_is_d011_with_its_line_number_and_reason(tmp_path, line, why):
    path = _file(tmp_path, f"6222600100000000001,张三,1.00,p0\n{line}\n")
    with pytest.raises(BatchFileError) as caught:
        bf.scan(path, bf.PAYMENT)
    assert caught.value.code.code == "D011"
    assert "line 2" in caught.value.info and why in caught.value.info


def test_bytes_that_are_not_gbk_are_d011(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"6222,\xff\xfe,1.00,p1\n")
    with pytest.raises(BatchFileError, match="line 1: not GBK"):
        bf.scan(path, bf.PAYMENT)


def test_an_empty_file_holds_no_items(tmp_path):
    with pytest.raises(BatchFileError, match="holds no items"):
        bf.scan(_file(tmp_path, "\r\n\r\n"), bf.PAYMENT)


def test_segments_are_bounded(tmp_path):
    lines = "".join(f"6222600100000000001,张三,1.00,p{n}\n" for n in range(2501))
    sizes = [len(s) for s in bf.segments(_file(tmp_path, lines), bf.PAYMENT)]
    assert sizes == [1000, 1000, 501]


def test_result_file_follows_every_line_and_appears_only_when_complete(tmp_path):
    path = _file(tmp_path, "6222,张三,1.00,p1\n\n6223,李四,2.00,p2\n")
    with bf.ResultWriter(path) as writer:
        writer.feed([("F", "2026112400000001", "", "")])
        assert not bf.result_path(path).exists()
        writer.feed([("E", "", "E008", "insufficient funds: available 1.00, item 2.00")])
        written = writer.finish()
    assert written.read_bytes().decode("gbk").splitlines() == [
        "6222,张三,1.00,p1,F,2026112400000001,,",
        "6223,李四,2.00,p2,E,,E008,insufficient funds: available 1.00， item 2.00",
    ]
    assert {p.name for p in tmp_path.iterdir()} == {"batch.txt", "batch.txt.result"}


def test_a_result_message_keeps_each_line_to_its_item(tmp_path):
    path = _file(tmp_path, "6222,张三,1.00,p1\n6223,李四,2.00,p2\n6224,王五,3.00,p3\n")
    written = bf.write_result(path, [("E", "", "E015", "名,字\0不符\r\n"),
                                     ("E", "", "E006", "\u20ac closed"),  # not in GBK
                                     ("F", "2026112400000009", "", "")])
    assert written.read_bytes().decode("gbk").split("\r\n") == [
        "6222,张三,1.00,p1,E,,E015,名，字 不符  ",
        "6223,李四,2.00,p2,E,,E006,? closed",
        "6224,王五,3.00,p3,F,2026112400000009,,",
        "",
    ]


def test_a_result_count_that_disagrees_with_the_file_leaves_no_file(tmp_path):
    path = _file(tmp_path, "6222,张三,1.00,p1\n6223,李四,2.00,p2\n")
    with pytest.raises(ValueError, match="more lines than the bank has items"):
        bf.write_result(path, [("F", "1", "", "")])
    with pytest.raises(ValueError, match="more items than the file"):
        bf.write_result(path, [("F", "1", "", "")] * 3)
    assert {p.name for p in tmp_path.iterdir()} == {"batch.txt"}


_names = st.text(alphabet="张三李四王五赵六ABCxyz 0123", min_size=1, max_size=20)
_items = st.lists(st.tuples(st.from_regex(r"[0-9]{16,21}", fullmatch=True), _names,
                            st.integers(1, 10**12)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(items=_items)
def test_any_valid_file_scans_to_its_count_and_total_and_round_trips(tmp_path_factory, items):
    folder = tmp_path_factory.mktemp("p")
    lines = [f"{card},{name},{format_yuan(amt)},b{n}" for n, (card, name, amt) in
             enumerate(items)]
    path = _file(folder, "\n".join(lines) + "\n")
    assert bf.scan(path, bf.PAYMENT) == bf.Scan(len(items), sum(a for _, _, a in items))
    decoded = [item for segment in bf.segments(path, bf.PAYMENT, size=7) for item in segment]
    assert [(i["card_no"], i["acname"], i["amt"]) for i in decoded] == items


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_no_bytes_crash_the_reader(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("f") / "x.txt"
    path.write_bytes(data)
    for tr_code in (bf.PAYMENT, bf.COLLECTION):
        try:
            found = bf.scan(path, tr_code)
        except BatchFileError as exc:
            assert exc.code.code == "D011"
        else:
            assert found.count >= 1


def _lines_one_by_one(path, encoding="GBK"):
    """The reader's contract, a line at a time: what the block reader must yield."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                yield number, raw.decode("gb18030")
            except UnicodeDecodeError:
                yield number, BatchFileError
                return


def _read(reader):
    out = []
    try:
        out.extend(reader)
    except BatchFileError as exc:
        out.append((int(exc.info.split(" line ")[1].split(":")[0]), BatchFileError))
    return out


_PIECES = st.sampled_from([b"a,b", "客户".encode("gbk"), b"\r", b"\n", b"\r\n", b" ", b"\t",
                           "\u3000".encode("gbk"), b"\xef\xbb\xbf", b"\x81", b"\xff\xfe",
                           b"\x0b", "€".encode("gb18030"), b"\x81\x30\x81\x30"])


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=40), block=st.integers(1, 16))
def test_the_block_reader_reads_what_a_line_reader_reads(tmp_path_factory, pieces, block):
    path = tmp_path_factory.mktemp("lines") / "f.txt"
    path.write_bytes(b"".join(pieces))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bf, "_BLOCK", block)  # lines cut across many small blocks
        assert _read(bf._lines(path, "GBK")) == list(_lines_one_by_one(path))
