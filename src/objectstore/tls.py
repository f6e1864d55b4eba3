"""TLS for both listeners: one ``ssl.SSLContext`` whose certificate is reloaded in place.

``OBJECTSTORE_TLS_CERT`` / ``OBJECTSTORE_TLS_KEY`` serve the management API, the console and
S3 over HTTPS. The two listeners share one context; loading a certificate chain again into
that same context (``SSLContext.load_cert_chain``) changes what every *new* handshake presents,
while connections already open keep the certificate they were set up with. So a certificate
replaced on disk (a renewal) is taken without a restart: at once on ``SIGHUP``, or within
``OBJECTSTORE_TLS_RELOAD_SECONDS`` by a look at the files' modification times.

A pair that does not load (a key that does not match its certificate, a file written half-way)
is first tried in a scratch context and refused with a warning: the context keeps serving the
pair it had, and the next look tries again.
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

log = logging.getLogger("objectstore.tls")

#: ``Strict-Transport-Security`` sent on every response of a TLS listener: one year, so a
#: browser that once reached the console over HTTPS never sends a session cookie in clear
HSTS = (b"strict-transport-security", b"max-age=31536000")


class TlsReloader:
    """The server side of TLS: ``context`` for the listeners, ``reload()`` on SIGHUP and
    ``check()`` from a timer."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = Path(cert)
        self.key = Path(key)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._stamp = self._files_stamp()
        self.context.load_cert_chain(str(self.cert), str(self.key))  # fails loudly at start

    def _files_stamp(self) -> tuple[tuple[int, int, int], ...]:
        out = []
        for path in (self.cert, self.key):
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def reload(self) -> bool:
        """Load the files again (SIGHUP). False, with a warning, when they do not load."""
        try:
            stamp = self._files_stamp()
            trial = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            trial.load_cert_chain(str(self.cert), str(self.key))
            self.context.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as exc:
            log.warning("TLS certificate %s / key %s not reloaded, still serving the previous "
                        "one: %s", self.cert, self.key, exc)
            return False
        self._stamp = stamp
        log.info("TLS certificate reloaded from %s", self.cert)
        return True

    def check(self) -> bool:
        """Reload when either file changed on disk since the last load."""
        try:
            stamp = self._files_stamp()
        except OSError:  # being replaced: look again next time
            return False
        if stamp == self._stamp:
            return False
        return self.reload()
