"""A lean HTTP/1.1 server for ASGI apps, on ``httptools`` (the llhttp parser) and the event
loop's own transports (uvloop in production): what serves all three planes.

- :mod:`.protocol`: :class:`~.protocol.H1Protocol`, one object per connection. It feeds
  the parser, builds each request's ASGI ``http`` scope once, straight from the parser's
  callbacks, runs one task per request (pipelined requests queue and are answered in order),
  bounds an incomplete head (431), answers a malformed request 400 and reports its idle time
  to the process's connection guard (``conn_guard.py``: head and keep-alive timeouts, the
  connection cap).
- :mod:`.cycle`: :class:`~.cycle.Cycle`, one request/response: ASGI ``receive`` (body
  chunks, ``Expect: 100-continue``, read flow control, ``http.disconnect``) and ``send``
  (content-length or chunked framing, HEAD, ``Connection: close``, write backpressure). A
  response's head is held until its first body bytes so that a small response leaves in
  one ``transport.write``.
- :mod:`.listener`: :class:`~.listener.Listener`, one listening socket (an address or an
  inherited socket for ``--workers``, TLS by the context given) and its graceful shutdown.

Why not uvicorn's ``Server`` with this protocol plugged in (``http=<class>``): the protocol
would have to take uvicorn's ``Config``/``ServerState`` in its constructor (coupling it to
uvicorn's internals), and uvicorn's server brings what we do not use (a 0.1 s tick per
listener, its own signal capture that replaced the loop's handlers, lifespan). What it did
for us — ``loop.create_server`` on an address or an inherited socket, stop accepting, let
in-flight requests finish up to a timeout, close idle keep-alive connections — is the forty
lines of :mod:`.listener`. Nothing here imports uvicorn.

The apps stay plain ASGI 3 (``scope``/``receive``/``send``): they do not know this server.
"""

from .listener import Listener
from .protocol import H1Protocol

__all__ = ["H1Protocol", "Listener"]
