"""The HTTP side of ``tinynet serve``: the standard library's ``ThreadingHTTPServer``, made safe.

    server = DigitServer(("127.0.0.1", 8000), {"cnn": Predictor.load("runs/cnn/checkpoint.npz")})
    server.serve_forever()                  # GET / (the page), GET /api/models, POST /api/predict

Routes are matched exactly (``GET /``, ``GET /index.html``, ``GET /api/models``,
``POST /api/predict``); the page is read once from package data, never from a path in the URL,
so ``/../``, ``/%2e%2e/`` and every other path is a 404. Every answer, errors included, is one
line of JSON ``{"error": "…"}`` (the page itself excepted): 400 a bad request, 404 an unknown
path, 405 a known path with another method, 411 a POST without a Content-Length (or chunked),
408 a body that stops arriving, 413 a body over ``MAX_BODY`` (refused from its Content-Length, before it is read) or an image
of too many pixels, 500 a failure of the server (logged as one line, no traceback sent), 503
when no connection slot frees up within a request's whole time (``deadline`` + 2 ``timeout``).

Bounded time and memory: at most ``max_connections`` connections are served at once (each in a
thread; more wait in the listen queue) and ``max_working`` of them compute at once; every read or write waits at most
``timeout`` seconds, and a request must have arrived whole within ``deadline`` seconds of the
connection (a client that sends a byte every few seconds is cut off). One request per connection
(HTTP/1.1 with ``Connection: close``; ``Expect: 100-continue`` is answered once the route and the
length are checked). The predictors are shared read-only: inference runs under ``no_grad`` and
saliency builds its own graph per request (``tinynet.viz``), so concurrent requests cannot mix.
"""
import importlib.resources
import json
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .api import ApiError, answer_predict, predict, read_png
from .png import encode_png

__all__ = ["DigitServer", "Handler", "MAX_BODY", "page"]

MAX_BODY = 2 * 1024 * 1024        # bytes in a request body
MAX_DISCARD = 16 * 1024 * 1024    # an over-long body is read and dropped up to this much, so the client sees the 413
PAGE_ROUTES = ("/", "/index.html")
ROUTES = {"/": "GET", "/index.html": "GET", "/api/models": "GET", "/api/predict": "POST"}


def page():
    """The page's HTML (package data ``tinynet/serve/page.html``), as bytes."""
    return importlib.resources.files(__package__).joinpath("page.html").read_bytes()


def warm_up(predictors):
    """One small prediction by each model, before the first visitor: it imports the image decoder
    (matplotlib, seconds on a busy machine) and proves each model answers."""
    from ..backend import get_module
    np = get_module("numpy")
    stroke = np.zeros((12, 12), np.uint8)
    stroke[2:10, 5:7] = 255
    grey = read_png(encode_png(stroke))
    for predictor in predictors.values():
        predict(predictor, grey)


def _too_long(length):
    return f"the body is {length:,} bytes; the server takes at most {MAX_BODY:,}"


def _one_line(text):
    return re.sub(r"\s+", " ", str(text)).strip()


class DigitServer(ThreadingHTTPServer):
    """Serves the page and the API for ``predictors`` (``{name: Predictor}``, the first the default)."""

    daemon_threads = True
    request_queue_size = 128          # connections the system holds while every slot is busy

    def __init__(self, address, predictors, max_connections=32, max_working=2, timeout=10.0, deadline=20.0,
                 verbose=False):
        if not predictors:
            raise ValueError("DigitServer needs at least one predictor")
        self.predictors = dict(predictors)
        self.descriptions = [p.describe() for p in self.predictors.values()]    # once: no model is touched later
        warm_up(self.predictors)
        self.page = page()
        self.timeout_seconds, self.deadline, self.verbose = timeout, deadline, verbose
        self.slots = threading.BoundedSemaphore(max_connections)
        self.working = threading.BoundedSemaphore(max_working)
        self._watched, self._lock, self._closing = {}, threading.Lock(), threading.Event()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        threading.Thread(target=self._cut_late_requests, name="tinynet-serve-deadline", daemon=True).start()

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    # --- at most max_connections threads --------------------------------------------------
    def process_request(self, request, client_address):
        """Serve ``request`` in a thread once one of ``max_connections`` slots is free (meanwhile new
        connections wait in the listen queue); 503 if none frees within a request's whole time."""
        if not self.slots.acquire(timeout=self.deadline + 2 * self.timeout_seconds):
            try:
                request.settimeout(1.0)
                request.sendall(_response(503, {"error": "the server is busy; try again in a moment"}))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    # --- a request must arrive whole within `deadline` seconds ------------------------------
    def watch(self, connection):
        with self._lock:
            self._watched[connection] = time.monotonic() + self.deadline

    def unwatch(self, connection):
        with self._lock:
            self._watched.pop(connection, None)

    def _cut_late_requests(self):
        while not self._closing.wait(0.25):
            now = time.monotonic()
            with self._lock:
                late = [c for c, end in self._watched.items() if end < now]
                for c in late:
                    del self._watched[c]
            for c in late:
                try:
                    c.shutdown(socket.SHUT_RDWR)     # the handler's pending read ends at once
                except OSError:
                    pass

    def server_close(self):
        self._closing.set()
        super().server_close()


def _response(status, obj):
    """A whole HTTP/1.0 response with the JSON ``obj`` (for a connection no handler serves)."""
    body = json.dumps(obj).encode() + b"\n"
    return (f"HTTP/1.0 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class Handler(BaseHTTPRequestHandler):
    """One request: route it, check it, answer it with JSON (or the page)."""

    server_version = "tinynet-serve"
    protocol_version = "HTTP/1.1"             # for "Expect: 100-continue" (curl); every answer closes the connection
    default_request_version = "HTTP/1.0"      # so that even an answer to a garbled request line has a status line
    _allow = "GET, POST"

    def version_string(self):
        return self.server_version

    def setup(self):
        self.timeout = self.server.timeout_seconds      # StreamRequestHandler sets it on the socket
        super().setup()
        self.server.watch(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.unwatch(self.connection)

    # --- answers ----------------------------------------------------------------------------
    def _send(self, status, body, content_type, headers=()):
        self.close_connection = True
        self.send_response(status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, headers=()):
        self._send(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n", "application/json", headers)

    def send_error(self, code, message=None, explain=None):
        """Every error, the standard library's own too (a malformed request line, 414, 431, 501), as JSON."""
        self.close_connection = True
        try:
            allow = [("Allow", self._allow)] if code == 405 else []
            self._json(code, {"error": _one_line(message or HTTPStatus(code).phrase)}, allow)
        except OSError:
            pass

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def log_error(self, format, *args):
        sys.stderr.write(_one_line(f"tinynet serve: {self.client_address[0]}: {format % args}") + "\n")

    # --- routes -----------------------------------------------------------------------------
    def _target(self):
        """``(path, query)`` of the request target: ``/path?query``, or the absolute form ``http://host/path?query``."""
        target = self.path if self.path.startswith("/") else urlsplit(self.path)._replace(scheme="", netloc="").geturl()
        path, _, query = target.partition("?")
        return path.partition("#")[0], query.partition("#")[0]

    def _route(self, method):
        """The path if ``method`` may be used on it; else an error was sent and None is returned."""
        path = self._target()[0]
        if path not in ROUTES:
            self.send_error(404, f"no such page: {self.path[:100]!r} (the page is /, the API /api/models and /api/predict)")
            return None
        if ROUTES[path] != method:
            self._allow = ROUTES[path]
            self.send_error(405, f"{self.command[:20]} is not allowed on {path}; use {ROUTES[path]}")
            return None
        return path

    def do_GET(self):
        path = self._route("GET")
        if path in PAGE_ROUTES:
            self._send(200, self.server.page, "text/html; charset=utf-8", [("Content-Security-Policy",
                       "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                       "img-src data: blob:; connect-src 'self'; form-action 'none'")])
        elif path == "/api/models":
            self._json(200, {"models": self.server.descriptions})

    def do_POST(self):
        if self._route("POST") is None:
            return
        try:
            model = self._query_model()
            body = self._read_body()
            if body is None:
                return
            self.server.unwatch(self.connection)        # the request is in: computing takes its own time
            with self.server.working:
                answer = answer_predict(self.server.predictors, body, self.headers.get("Content-Type"), model)
            self._json(200, answer)
        except ApiError as e:
            self.send_error(e.status, e.message)
        except OSError:                 # the client went away or stalled: nobody to answer
            self.close_connection = True
        except Exception as e:          # a bug: one line in the log, none of it to the client
            self.log_error("%s while answering %s: %s", type(e).__name__, self.path[:100], e)
            self.send_error(500, "the server failed on this request (see its log)")

    def handle_expect_100(self):
        """``Expect: 100-continue``: say "go on" only to a body this server would read."""
        if self._route(self.command) is None:
            return False
        try:
            if self.command == "POST" and self._check_length() > MAX_BODY:
                raise ApiError(413, _too_long(self._check_length()))
        except ApiError as e:
            self.send_error(e.status, e.message)
            return False
        return super().handle_expect_100()

    def _other_method(self):
        self._route(self.command)

    do_HEAD = do_GET
    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _other_method

    # --- checking a request -------------------------------------------------------------------
    def _query_model(self):
        """The ``model`` of the query string, or None; ApiError 400 for anything else in it."""
        query = self._target()[1]
        if not query:
            return None
        try:
            fields = parse_qs(query, strict_parsing=True, max_num_fields=4)
        except ValueError:
            raise ApiError(400, "the query string is malformed; the API takes ?model=NAME only") from None
        if set(fields) != {"model"} or len(fields["model"]) != 1:
            raise ApiError(400, "the API takes one query parameter: ?model=NAME")
        return fields["model"][0]

    def _check_length(self):
        """The Content-Length, if there is exactly one valid one and no Transfer-Encoding; else ApiError."""
        if self.headers.get("Transfer-Encoding") is not None:
            raise ApiError(411, "Transfer-Encoding (chunked) is not accepted: send a Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise ApiError(411, "a Content-Length header is required")
        if len(set(v.strip() for v in lengths)) != 1 or not re.fullmatch(r"[0-9]{1,15}", lengths[0].strip()):
            raise ApiError(400, f"invalid Content-Length {', '.join(lengths)[:40]!r}")
        return int(lengths[0])

    def _read_body(self):
        """The request body (at most MAX_BODY bytes, by its Content-Length), or None after an error."""
        length = self._check_length()
        if length > MAX_BODY:
            self.send_error(413, _too_long(length))
            self._discard(length)
            return None
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise ApiError(408, f"the body did not arrive: nothing for {self.server.timeout_seconds:g} s") from None
        if len(body) < length:
            raise ApiError(400, f"the body ended after {len(body):,} of the {length:,} bytes announced")
        return body

    def _discard(self, length):
        """Read and drop up to MAX_DISCARD bytes of an over-long body within a second or two, so that
        a client still sending it gets to read the 413 instead of a reset connection."""
        end, left = time.monotonic() + 2.0, min(length, MAX_DISCARD)
        try:
            self.connection.settimeout(0.5)
            while left > 0 and time.monotonic() < end:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass
