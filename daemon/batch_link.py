"""Sending a batch to the bank in segments, and reading its items back, over the core link.

:func:`submit` streams a batch's segments with a window of several in flight
(the bank stores them in order, each durable before its answer) and returns
the bank's answer to the last one. Whatever goes wrong is one of the core
link's three answers: the bank's refusal (its Response or ErrorMessage), not
sent at all (:class:`~daemon.core_link.NotSent`, when not even segment 1
left), or :class:`~daemon.core_link.OutcomeUnknown` — some segments may be
stored; the batch executes only once its last segment is in, and the same
req_no sent again resumes it (segments the bank holds are answered again).

:func:`items` pages through 310208 in batch order, for a result file or an
inline reply, never holding more than one page.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping

from daemon.core_link import CoreLink, NotSent, OutcomeUnknown, PendingRequest
from protocol import codes
from protocol.bodies import PAGE_RECORDS
from protocol.events import ErrorMessage, Request, Response

#: Segments in flight at once: enough to keep the bank busy while the next is built.
WINDOW = 32


class BatchRefused(Exception):
    """The bank refused a segment (or the batch): ``answer`` is its Response or ErrorMessage."""

    def __init__(self, answer: Response | ErrorMessage) -> None:
        super().__init__(f"{answer.ret_code} {answer.ret_msg}")
        self.answer = answer


async def submit(link: CoreLink, tr_code: str, req_no: str, header: Mapping[str, object],
                 segments: Iterable[list[dict[str, object]]], *, timeout: float,
                 progress: Callable[[int], None] | None = None,
                 window: int = WINDOW) -> Response:
    """Send every segment, in order; the bank's answer to the last one.

    Segment 1 goes alone (it creates the batch, or is refused and nothing more
    is sent); the middle ones go ``window`` at a time; the last waits for
    every answer before it, since it is the one that completes the batch.
    Raises :class:`BatchRefused` when the bank refuses a segment, NotSent when
    not even segment 1 left, OutcomeUnknown when the answers stop coming.
    ``progress(n)`` is told how many items the bank holds after each answer.
    """
    in_flight: deque[PendingRequest] = deque()
    sent_any = False

    def check(answer: Response | ErrorMessage) -> Response:
        # A complete batch may be held for the enterprise's approvals (A001): not refused.
        if not isinstance(answer, Response) or answer.ret_code not in codes.WITH_BODY:
            raise BatchRefused(answer)
        if progress is not None:
            progress(int(answer.fields.get("received", 0)))
        return answer

    async def send(frag_no: int, items: list[dict[str, object]], more: bool) -> None:
        nonlocal sent_any
        request = Request(tr_code=tr_code, req_no=req_no, fields={**header, "items": items},
                          frag_no=frag_no, more=more)
        try:
            in_flight.append(await link.send_request(request))
        except NotSent:
            if sent_any:  # earlier segments may be stored: the batch is not "not sent"
                raise OutcomeUnknown(f"segment {frag_no} not sent after earlier ones") \
                    from None
            raise
        sent_any = True

    async def drain(keep: int) -> Response | None:
        answer = None
        while len(in_flight) > keep:
            answer = check(await in_flight.popleft().answer(timeout))
        return answer

    try:
        pending = iter(segments)
        current = next(pending, None)
        if current is None:
            raise ValueError("a batch needs at least one segment")
        frag_no = 0
        while current is not None:
            following = next(pending, None)
            frag_no += 1
            last = following is None
            if last or frag_no == 2:
                await drain(0)  # segment 1 answered before more; all before the last
            await send(frag_no, current, more=not last)
            answer = await drain(0 if frag_no == 1 or last else window - 1)
            current = following
        assert answer is not None  # the last segment's, drained above
        return answer
    finally:
        for waiting in in_flight:
            waiting.close()


async def items(link: CoreLink, req_no: str, new_req_no: Callable[[], str], *,
                timeout: float, status: str = "", window: int = 8
                ) -> AsyncIterator[list[Mapping[str, object]]]:
    """Every item of the batch ``req_no`` (or those with ``status``), a page at a time.

    After the first page (which tells how many items match) up to ``window``
    pages are asked for at once, so the bank reads the next pages while this
    side writes the last one; they are yielded in order.
    """

    def page(begin: int) -> Request:
        return Request(tr_code="310208", req_no=new_req_no(),
                       fields={"ogl_serial_no": req_no, "status": status, "begin_no": begin,
                               "query_num": PAGE_RECORDS})

    def records_of(answer: Response | ErrorMessage) -> list[Mapping[str, object]]:
        if not isinstance(answer, Response) or not answer.ok:
            raise BatchRefused(answer)
        return answer.fields["records"]

    first = await link.request(page(1), timeout=timeout)
    records = records_of(first)
    if records:
        yield records
    if first.fields["more_flag"] != "1" or not records:
        return
    total = int(first.fields["total_num"])
    begins = iter(range(1 + len(records), total + 1, PAGE_RECORDS))
    in_flight: deque[PendingRequest] = deque()
    try:
        for begin in begins:
            in_flight.append(await link.send_request(page(begin)))
            if len(in_flight) >= window:
                yield records_of(await in_flight.popleft().answer(timeout))
        while in_flight:
            yield records_of(await in_flight.popleft().answer(timeout))
    finally:
        for waiting in in_flight:
            waiting.close()


def refusal_code(answer: Response | ErrorMessage) -> codes.ReturnCode:
    return codes.lookup(answer.ret_code) or codes.MALFORMED_FRAME
