"""The daemon's core link and ERP service against an in-process bank core (no subprocess)."""

from __future__ import annotations

import socket

import pytest
import trio

from config.seed import DEMO_SEED, parse_seed
from core_sim.bank import Bank
from core_sim.enrollment import KeyRegister
from core_sim.server import CoreServer
from daemon.access import AccessList
from daemon.core_link import CoreLink, DuplicateInFlight, NotSent, OutcomeUnknown
from daemon.service import ErpService
from protocol.events import ErrorMessage, Request, Response
from protocol.keys import BankKeyPair, SigningKey
from protocol.session import ClientSession

CORP, USER = "0000000001", "001"
ACNO1, ACNO2 = "310066726018010000001", "310066726018010000002"


def transfer_fields(amt: int) -> dict:
    return dict(pay_acno=ACNO1, pay_acname="Demo Insurance Co., Ltd.", rcv_bank_name="",
                rcv_acno=ACNO2, rcv_acname="Demo Insurance Co., Ltd.", rcv_exg_code="",
                rcv_bank_no="", cur_code="CNY", amt=amt, cert_no="", summary="test",
                bank_flag="0", area_flag="0")


class Bed:
    """A bank core on port 0 plus a link configured for it."""

    def __init__(self, tmp_path):
        self.bank = Bank.open(tmp_path / "ledger.db", seed=parse_seed(DEMO_SEED))
        self.keys = BankKeyPair.generate()
        self.client_key = SigningKey.generate()
        register = KeyRegister(tmp_path / "enrolled")
        register.enroll(CORP, USER, self.client_key.public)
        self.server = CoreServer(self.bank, self.keys, register.lookup, clearing_interval=None)

    def link(self, port: int, **kw) -> CoreLink:
        def new_session():
            return ClientSession(corp_no=CORP, user_no=USER, signing_key=self.client_key,
                                 bank_keys=self.keys.public)
        kw.setdefault("connect_timeout", 2.0)
        return CoreLink(host="127.0.0.1", port=port, new_session=new_session, **kw)


@pytest.fixture
def bed(tmp_path):
    bed = Bed(tmp_path)
    yield bed
    bed.bank.close()


async def wait_connected(link: CoreLink) -> None:
    with trio.fail_after(5):
        while not link.connected:
            await trio.sleep(0.01)


async def test_request_round_trip_and_duplicate_in_flight(bed, nursery):
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    link = bed.link(port)
    await nursery.start(link.run)
    await wait_connected(link)
    answer = await link.request(Request(tr_code="310101", req_no="B1",
                                        fields={"acno": ACNO1}), timeout=5)
    assert isinstance(answer, Response) and answer.ok
    assert answer.fields["records"][0]["balance"] == 100_000_000

    # Two concurrent requests with one req_no: the second is refused locally.
    results = []

    async def send():
        try:
            results.append(await link.request(
                Request(tr_code="210201", req_no="T1", fields=transfer_fields(100)),
                timeout=5))
        except DuplicateInFlight as exc:
            results.append(exc)

    async with trio.open_nursery() as inner:
        inner.start_soon(send)
        inner.start_soon(send)
    assert sum(isinstance(r, DuplicateInFlight) for r in results) == 1
    assert sum(isinstance(r, Response) and r.ok for r in results) == 1


async def test_not_sent_when_core_is_down(bed, nursery):
    link = bed.link(1, connect_timeout=0.3)  # nothing listens on port 1
    await nursery.start(link.run)
    with pytest.raises(NotSent):
        await link.request(Request(tr_code="310101", req_no="N1", fields={"acno": ACNO1}),
                           timeout=1)


async def test_timeout_is_outcome_unknown_and_late_reply_is_logged(bed, nursery, caplog):
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    link = bed.link(port)
    await nursery.start(link.run)
    await wait_connected(link)
    # Hold the bank so that the reply comes after the request has given up.
    async with bed.server.gate._lock:
        with pytest.raises(OutcomeUnknown):
            await link.request(Request(tr_code="210201", req_no="L1",
                                       fields=transfer_fields(100)), timeout=0.2)
    with trio.fail_after(5):
        while not link.late_replies:
            await trio.sleep(0.01)
    assert "late reply for req_no L1" in caplog.text
    # The transfer did execute: the status query says so.
    status = await link.request(Request(tr_code="310204", req_no="Q1",
                                        fields={"query_flag": "1", "ogl_serial_no": "L1"}),
                                timeout=5)
    assert status.fields["stat"] == "1"


async def test_reconnects_after_core_restart(bed, tmp_path):
    async with trio.open_nursery() as outer:
        async with trio.open_nursery() as core_nursery:
            _, port = await core_nursery.start(bed.server.serve, "127.0.0.1", 0)
            link = bed.link(port, backoff_initial=0.05, backoff_max=0.2)
            await outer.start(link.run)
            await wait_connected(link)
            core_nursery.cancel_scope.cancel()
        with trio.fail_after(5):
            while link.connected:
                await trio.sleep(0.01)
        server2 = CoreServer(bed.bank, bed.keys, bed.server.lookup_key, clearing_interval=None)
        await outer.start(server2.serve, "127.0.0.1", port)
        await wait_connected(link)
        assert link.connections == 2
        answer = await link.request(Request(tr_code="310101", req_no="R2",
                                            fields={"acno": ACNO1}), timeout=5)
        assert answer.ok
        outer.cancel_scope.cancel()


async def test_service_reports_unknown_outcome_never_failure(bed, nursery):
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    link = bed.link(port)
    await nursery.start(link.run)
    await wait_connected(link)
    service = ErpService(link, corp_no=CORP, user_no=USER, request_timeout=0.2)
    xml = (f"<ap><head><tr_code>210224</tr_code><req_no>U1</req_no></head><body>"
           f"<pay_acno>{ACNO1}</pay_acno><pay_acname>Demo Insurance Co., Ltd.</pay_acname>"
           "<rcv_acno>6222020200000000001</rcv_acno><rcv_acname>Zhang San</rcv_acname>"
           "<partyid>102100099996</partyid><amt>10.00</amt></body></ap>").encode()
    async with bed.server.gate._lock:
        reply = (await service.handle(xml)).decode("gbk")
    assert "<particular_code>D008</particular_code>" in reply
    assert "<ans_code>2</ans_code>" in reply
    assert "<tranStatus>20</tranStatus>" in reply


async def test_service_refuses_when_core_unreachable(bed, nursery):
    link = bed.link(1, connect_timeout=0.2)
    await nursery.start(link.run)
    service = ErpService(link, corp_no=CORP, user_no=USER)
    xml = (f"<ap><head><tr_code>310101</tr_code></head><body><acno>{ACNO1}</acno>"
           "</body></ap>").encode()
    reply = (await service.handle(xml)).decode("gbk")
    assert "<particular_code>D007</particular_code>" in reply
    assert "<ans_code>1</ans_code>" in reply


async def test_error_message_from_bank_is_mapped(bed, nursery):
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    link = bed.link(port)
    await nursery.start(link.run)
    await wait_connected(link)
    answer = await link.request(Request(tr_code="210201", req_no="Z1",
                                        fields=transfer_fields(0)), timeout=5)
    assert isinstance(answer, Response | ErrorMessage)
    assert answer.ret_code != "0000"


class _FakeSocket:
    def __init__(self, host):
        self.host = host

    def getpeername(self):
        return (self.host, 40000)


class _FakeStream:
    def __init__(self, host):
        self.socket = _FakeSocket(host)


def test_access_list_refuses_and_logs_strangers(caplog):
    import ipaddress
    nets = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.1.0.0/16"))

    def allows(host):
        return any(ipaddress.ip_address(host) in n for n in nets)

    access = AccessList(allows)
    assert access.check(_FakeStream("127.0.0.1"), "erp_tcp") == "127.0.0.1:40000"
    assert access.check(_FakeStream("10.1.2.3"), "erp_tcp") == "10.1.2.3:40000"
    assert access.check(_FakeStream("192.0.2.7"), "erp_tcp") is None
    assert "refused connection from 192.0.2.7" in caplog.text


async def test_waiting_request_cuts_the_reconnect_backoff_short(bed):
    async with trio.open_nursery() as outer:
        async with trio.open_nursery() as core_nursery:
            _, port = await core_nursery.start(bed.server.serve, "127.0.0.1", 0)
            # A long backoff: only the waiting request can make the link retry soon.
            link = bed.link(port, backoff_initial=30.0, backoff_max=30.0, connect_timeout=3.0)
            await outer.start(link.run)
            await wait_connected(link)
            core_nursery.cancel_scope.cancel()
        with trio.fail_after(5):
            while link.connected:
                await trio.sleep(0.01)
        server2 = CoreServer(bed.bank, bed.keys, bed.server.lookup_key, clearing_interval=None)
        await outer.start(server2.serve, "127.0.0.1", port)
        with trio.fail_after(5):
            answer = await link.request(Request(tr_code="310101", req_no="W1",
                                                fields={"acno": ACNO1}), timeout=5)
        assert answer.ok and link.connections == 2
        outer.cancel_scope.cancel()


async def _tunnel_proxy(stream, seen: list):
    """A minimal HTTP CONNECT proxy: read the request head, connect, then relay bytes."""
    head = b""
    while b"\r\n\r\n" not in head:
        head += await stream.receive_some(4096)
    request_line = head.split(b"\r\n", 1)[0].decode()
    seen.append(request_line)
    host, port = request_line.split()[1].rsplit(":", 1)
    upstream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(b"HTTP/1.1 200 Connection established\r\n\r\n")

    async def pump(source, sink):
        try:
            while data := await source.receive_some(65536):
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await trio.aclose_forcefully(sink)

    async with trio.open_nursery() as relay:
        relay.start_soon(pump, stream, upstream)
        relay.start_soon(pump, upstream, stream)


async def test_link_through_an_http_connect_proxy(bed, nursery):
    _, port = await nursery.start(bed.server.serve, "127.0.0.1", 0)
    seen: list[str] = []
    proxies = await nursery.start(trio.serve_tcp, lambda s: _tunnel_proxy(s, seen), 0)
    proxy_port = proxies[0].socket.getsockname()[1]
    link = bed.link(port, proxy=("127.0.0.1", proxy_port))
    await nursery.start(link.run)
    await wait_connected(link)
    answer = await link.request(Request(tr_code="310101", req_no="X1",
                                        fields={"acno": ACNO1}), timeout=5)
    assert answer.ok
    assert seen == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]


async def test_proxy_refusal_is_reported_and_nothing_is_sent(bed, nursery, caplog):
    async def refusing_proxy(stream):
        await stream.receive_some(4096)
        await stream.send_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await trio.aclose_forcefully(stream)

    proxies = await nursery.start(trio.serve_tcp, refusing_proxy, 0)
    link = bed.link(9, proxy=("127.0.0.1", proxies[0].socket.getsockname()[1]),
                    connect_timeout=0.5)
    await nursery.start(link.run)
    with pytest.raises(NotSent):
        await link.request(Request(tr_code="310101", req_no="X2", fields={"acno": ACNO1}),
                           timeout=1)
    assert "proxy refused CONNECT: HTTP 403" in caplog.text


async def test_request_waiting_to_connect_outlives_failed_attempts(bed, nursery):
    """Refused connection attempts while a request waits do not make it "unknown"."""
    with socket.socket() as probe:  # a port nobody listens on, for now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    link = bed.link(port, backoff_initial=0.05, backoff_max=0.05)

    async def core_later():
        await trio.sleep(0.3)  # several refused attempts first
        await nursery.start(bed.server.serve, "127.0.0.1", port)

    await nursery.start(link.run)
    nursery.start_soon(core_later)
    answer = await link.request(Request(tr_code="310101", req_no="A1", fields={"acno": ACNO1}),
                                timeout=5, connect_wait=5)
    assert isinstance(answer, Response) and answer.ok, answer
