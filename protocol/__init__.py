"""The sans-I/O wire protocol between the client daemon and the bank core.

Bytes in, events out; events in, bytes out. Nothing here opens a socket, reads
a clock or draws randomness of its own (see :mod:`protocol.session`). The wire
format is specified in docs/protocol.md.
"""
