"""The ini's ``[files] dir``: the exchange folder for batch files (DESIGN.md, batches).

Parsing (default, relative, absolute, bad values), editing with ``IniFile`` and
``directlink config``, and ``directlink send batch-pay --file`` copying its file
into the configured folder. The daemon's side (it creates the folder, 0700, and
finds batch files in it) is in tests/test_daemon_batches.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.errors import ConfigError
from config.ini import KNOWN_KEYS, IniFile, load_config, parse_config, render_default_config
from daemon.home import ClientHome, SetupError, make_exchange_folder
from directlink.cli import cli
from directlink.commands.config import config
from tests.test_cli_config import init_home, password_file
from tests.test_cli_send import FakeErpServer, reply_xml

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = "[enterprise]\ncorp_no = 0000000001\nuser_no = 001\n"
ETC = Path("/srv/dl/etc")


def files_dir(value: str, base: Path = ETC) -> Path:
    return parse_config(MINIMAL + f"[files]\ndir = {value}\n", "x.ini", base).files.dir


def failure(value: str, base: Path = ETC) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        files_dir(value, base)
    return info.value


# -- parsing ---------------------------------------------------------------------


def test_the_key_is_known_and_documented() -> None:
    spec = KNOWN_KEYS["files"]["dir"]
    assert spec.default == "../files"  # relative to etc/: HOME/files
    assert "exchange folder" in spec.description


def test_default_is_the_homes_files_folder() -> None:
    assert parse_config(MINIMAL, "x.ini", ETC).files.dir == Path("/srv/dl/files")
    sample = ROOT / "etc" / "directlink.ini"
    assert load_config(sample).files.dir == ROOT / "files"
    assert "\n[files]\n" in sample.read_text(encoding="utf-8")
    assert "\ndir = ../files\n" in sample.read_text(encoding="utf-8")


@pytest.mark.parametrize(("value", "expected"), [
    ("../exchange", "/srv/dl/exchange"),
    ("in", "/srv/dl/etc/in"),
    ("./erp/../in/", "/srv/dl/etc/in"),
    ("/data/erp/files", "/data/erp/files"),
])
def test_relative_and_absolute_folders(value: str, expected: str) -> None:
    assert files_dir(value) == Path(expected)


def test_home_relative_folder() -> None:
    assert files_dir("~/erp-files") == Path("~/erp-files").expanduser().resolve()


def test_relative_to_the_files_directory(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    ini = etc / "directlink.ini"
    ini.write_text(MINIMAL + "[files]\ndir = ../exchange/in\n", encoding="utf-8")
    assert load_config(ini).files.dir == (tmp_path / "exchange" / "in").resolve()


@pytest.mark.parametrize(("value", "reason"), [
    ("", "must not be empty (expected a folder path)"),
])
def test_a_bad_value_names_file_section_and_key(value: str, reason: str) -> None:
    error = failure(value)
    assert len(error.errors) == 1
    assert (error.section, error.key) == ("files", "dir")
    assert str(error) == f"x.ini: [files] dir: {reason}"


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "payroll.txt").write_text("x")
    error = failure("payroll.txt", tmp_path)
    assert (error.section, error.key) == ("files", "dir")
    assert str(error) == f"x.ini: [files] dir: {tmp_path / 'payroll.txt'} is a file, not a folder"


def test_unknown_key_in_the_section() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(MINIMAL + "[files]\ndirs = /x\n[file]\n", "x.ini", ETC)
    assert str(info.value).splitlines() == [
        "x.ini: [files] dirs: unknown key (did you mean 'dir'?)",
        "x.ini: [file]: unknown section (did you mean 'files'?)"]


def test_rendered_with_a_folder() -> None:
    text = render_default_config(corp_no="1", user_no="001", dir="/data/erp")
    assert parse_config(text, "x.ini", ETC).files.dir == Path("/data/erp")
    with pytest.raises(ConfigError, match=r"\[files\] dir: must not be empty"):
        render_default_config(corp_no="1", user_no="001", dir="")


# -- editing ---------------------------------------------------------------------


def test_set_in_place_and_in_a_file_without_the_section(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "directlink.ini"
    IniFile.from_text(path, render_default_config(corp_no="9", user_no="op1")).save()
    ini = IniFile(path)
    ini.set("files", "dir", "/data/erp")
    assert "# Default: ../files\ndir = /data/erp\n" in ini.text
    assert ini.config().files.dir == Path("/data/erp")

    bare = IniFile.from_text(tmp_path / "bare.ini", MINIMAL)
    assert not bare.is_set("files", "dir") and bare.get("files", "dir") == "../files"
    bare.set("files", "dir", "exchange")
    assert bare.text.endswith("[files]\n# Exchange folder: ERP systems put batch files here, "
                              "the daemon their result files.\ndir = exchange\n")
    assert bare.config().files.dir == tmp_path / "exchange"
    with pytest.raises(ConfigError, match=r"\[files\] dir: must not be empty"):
        bare.set("files", "dir", "")


def test_config_init_writes_the_default_folder(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    ini = ClientHome(home).config
    assert "\ndir = ../files\n" in ini.read_text()
    assert load_config(ini).files.dir == (home / "files").resolve()


def test_config_get_set_show(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    ini = ClientHome(home).config
    runner = CliRunner()
    got = runner.invoke(config, ["get", "--home", str(home), "files.dir"])
    assert got.exit_code == 0 and got.output == "../files\n"

    target = tmp_path / "erp-exchange"
    done = runner.invoke(config, ["set", "--home", str(home), "--password-file",
                                  str(password_file(tmp_path)), "files.dir", str(target)])
    assert done.exit_code == 0, done.output
    assert f"[files] dir = {target}" in done.output
    assert load_config(ini).files.dir == target
    assert not target.exists()  # the daemon creates it

    shown = runner.invoke(config, ["show", "--home", str(home), "files"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[1:] == [
        "", "[files]",
        "# exchange folder: ERP systems put batch files here, the daemon their result files",
        f"dir = {target}"]


def test_config_set_refuses_a_file(tmp_path: Path) -> None:
    home = init_home(tmp_path)
    ini = ClientHome(home).config
    before = ini.read_bytes()
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    result = CliRunner().invoke(config, ["set", "--home", str(home), "--password-file",
                                         str(password_file(tmp_path)), "files.dir", str(a_file)])
    assert result.exit_code == 1
    assert f"{ini}: [files] dir: {a_file} is a file, not a folder" in result.output
    assert ini.read_bytes() == before


# -- creating the folder -----------------------------------------------------------


def test_make_exchange_folder_is_private_whatever_the_umask(tmp_path: Path) -> None:
    cfg = parse_config(MINIMAL + "[files]\ndir = ../a/b\n", "x.ini", tmp_path / "etc")
    old = os.umask(0o022)
    try:
        assert make_exchange_folder(cfg) == tmp_path / "a" / "b"
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    make_exchange_folder(cfg)  # there already: fine

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    make_exchange_folder(parse_config(MINIMAL + f"[files]\ndir = {shared}\n"))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o750  # an admin's choice is kept


def test_make_exchange_folder_names_the_key_when_it_cannot(tmp_path: Path) -> None:
    cfg = parse_config(MINIMAL + "[files]\ndir = in\n", "x.ini", tmp_path)
    (tmp_path / "in").write_text("became a file after the config was read")
    with pytest.raises(SetupError, match=r"^x\.ini: \[files\] dir: .*in: not a folder$"):
        make_exchange_folder(cfg)
    blocked = parse_config(MINIMAL + "[files]\ndir = in/sub\n", "x.ini", tmp_path)
    with pytest.raises(SetupError, match=r"^x\.ini: \[files\] dir: .*: cannot create"):
        make_exchange_folder(blocked)


# -- `directlink send batch-pay --file` copies into the configured folder ----------


def test_send_batch_copies_the_file_into_the_configured_folder(tmp_path: Path) -> None:
    def refuse(head: dict[str, str], body: dict[str, object]) -> bytes:
        return reply_xml(head["tr_code"], head["req_no"], code="E017", ans_code="1",
                         info="refused")

    server = FakeErpServer(refuse)
    try:
        home = init_home(tmp_path, "--erp-port", str(server.port))
        folder = tmp_path / "erp" / "out"
        ini = ClientHome(home).config
        ini.write_text(ini.read_text().replace("dir = ../files", f"dir = {folder}"))
        source = tmp_path / "payroll.txt"
        source.write_bytes("6222600199000000001,张三,12.50,p1\n".encode("gbk"))
        result = CliRunner().invoke(cli, [
            "send", "--home", str(home), "batch-pay", "--from", "310066726018010000001",
            "--file", str(source), "--no-progress"])
    finally:
        server.close()
    assert result.exit_code == 1, result.output  # refused: but the file went first
    assert "E017" in result.output
    assert (folder / "payroll.txt").read_bytes() == source.read_bytes()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not (home / "files").exists()
