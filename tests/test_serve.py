"""``tinynet serve``: the API on a real server (http.client, ephemeral port) — real MNIST digits
to their labels, the same answer as the library, hostile requests, concurrency — and the command."""
import json
import socket
import threading
import time

import numpy as np
import pytest

from tinynet import cli, viz
from tinynet.predictor import Predictor
from tinynet.serve import model_names, server as server_module
from cli_run import run
from serve_fixtures import Running, decode_png, png_bytes, train_lenet


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_lenet(tmp_path_factory.mktemp("serve") / "lenet")


@pytest.fixture(scope="module")
def digits(checkpoint):
    """Sixteen MNIST test digits (two of each class 0…7 the model reads surely) and their labels."""
    from data_tools.mnist import load_mnist
    images, labels = load_mnist("test")
    predictor = Predictor.load(checkpoint)
    chosen = []
    for i in range(2000):
        label = int(labels[i])
        if label < 8 and sum(lab == label for _, lab in chosen) < 2:
            _, x = predictor.prepare(images[i] / 255.0)
            if predictor.probabilities(x)[label] > 0.9:
                chosen.append((images[i] / 255.0, label))
    assert len(chosen) == 16
    return chosen


@pytest.fixture(scope="module")
def server(checkpoint):
    with Running([checkpoint, checkpoint], timeout=1.0, deadline=3.0) as running:    # two models: lenet, lenet-2
        yield running


def big_page(digit, invert):
    """A test digit enlarged 4× on a 150×130 page (white on black, or black on white)."""
    page = np.zeros((150, 130), np.float32)
    page[10:122, 5:117] = np.kron(digit, np.ones((4, 4), np.float32))
    return 1 - page if invert else page


def test_a_real_mnist_digit_as_png_gets_its_label_and_the_pictures(server, digits, checkpoint):
    predictor = Predictor.load(checkpoint)
    for k, (digit, label) in enumerate(digits[:6]):
        status, _, answer = server.predict(png_bytes(big_page(digit, invert=k % 2 == 1)))
        assert status == 200, answer
        assert answer["top"]["index"] == label and answer["top"]["class"] == str(label)
        assert answer["classes"] == [str(d) for d in range(10)] and answer["model"] == "lenet"
        assert abs(sum(answer["probabilities"]) - 1) < 1e-4
        assert answer["top"]["probability"] == max(answer["probabilities"])
        seen = decode_png(answer["input"])       # what the network sees: predict's preprocessing of the same file
        expected, _ = predictor.prepare(big_page(digit, invert=k % 2 == 1))
        assert seen.shape == (28, 28) and np.abs(seen / 255.0 - expected).max() <= 0.5 / 255 + 1e-6
        overlay = decode_png(answer["saliency"])
        assert overlay.shape == (28, 28, 4) and (overlay[..., 0] == 255).all() and overlay[..., 3].max() == 255
        layers = answer["feature_maps"]
        assert [m["layer"] for m in layers] == ["0 Conv2d", "1 MaxPool2d", "3 Conv2d", "4 MaxPool2d"]
        assert [m["shape"] for m in layers] == [[10, 24, 24], [10, 12, 12], [20, 8, 8], [20, 4, 4]]
        for m in layers:
            assert len(m["channels"]) == 8
            strengths = [c["strength"] for c in m["channels"]]
            assert strengths == sorted(strengths, reverse=True)
            assert decode_png(m["channels"][0]["png"]).shape == tuple(m["shape"][1:])


def test_json_pixels_give_the_library_s_answer(server, digits, checkpoint):
    """The arrays the API returns are what Predictor and tinynet.viz give for the same pixels."""
    predictor = Predictor.load(checkpoint)
    digit, label = digits[3]
    status, _, answer = server.predict(pixels=digit.tolist(), arrays=True, model="lenet-2")
    assert status == 200 and answer["model"] == "lenet-2" and answer["top"]["index"] == label
    seen, x = predictor.prepare(digit)
    np.testing.assert_allclose(answer["probabilities"], predictor.probabilities(x), atol=2e-6)
    np.testing.assert_allclose(answer["arrays"]["input"], seen, atol=1e-6)
    np.testing.assert_allclose(answer["arrays"]["saliency"], viz.saliency(predictor.model, x, target=label), atol=1e-6)
    maps = dict(viz.feature_maps(predictor.model, x))
    assert list(answer["arrays"]["feature_maps"]) == list(maps)
    for name, m in maps.items():
        np.testing.assert_allclose(answer["arrays"]["feature_maps"][name], m, atol=1e-6)
        strongest = np.argsort(-np.maximum(m, 0).mean(axis=(1, 2)), kind="stable")[:8]
        layer = next(layer for layer in answer["feature_maps"] if layer["layer"] == name)
        assert [c["index"] for c in layer["channels"]] == strongest.tolist()
    status, _, plain = server.predict(pixels=digit.tolist())
    assert status == 200 and "arrays" not in plain


def test_models_and_the_page(server):
    status, _, answer = server.request("GET", "/api/models")
    assert status == 200 and [m["name"] for m in answer["models"]] == ["lenet", "lenet-2"]
    lenet = answer["models"][0]
    assert lenet["parameters"] == 21840 and lenet["classes"] == [str(d) for d in range(10)]
    assert lenet["layers"][0] == ["0", "Conv2d 1→10 5×5", [10, 24, 24]] and len(lenet["layers"]) == 10
    for path in ("/", "/index.html"):
        status, response, page = server.request("GET", path)
        assert status == 200 and response.getheader("Content-Type") == "text/html; charset=utf-8"
        assert b'<canvas id="pad"' in page and b"/api/predict" in page
        assert b"http://" not in page and b"https://" not in page and b"src=\"//" not in page   # nothing from outside
        assert "default-src 'none'" in response.getheader("Content-Security-Policy")
    status, response, body = server.request("HEAD", "/")
    assert status == 200 and body == b""


PNG = png_bytes(np.eye(28))
NOISE = png_bytes(np.random.default_rng(0).random((100, 100)))


def png_of_size(width, height):
    from PIL import Image
    import io
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def png_header_claiming(width, height):
    """A PNG signature and IHDR chunk announcing width×height, and nothing else."""
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + b"\0" * 16
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", 16) + idat + struct.pack(">I", zlib.crc32(idat)))


def json_body(obj):
    return json.dumps(obj).encode()


ROW = [0.0] * 28
BAD_BODIES = [  # (body, content type, status, words in the error)
    (b"hello", "image/png", 400, "cannot read the uploaded image"),
    (NOISE[:len(NOISE) // 2], "image/png", 400, "the uploaded image"),
    (NOISE[:-200], "image/png", 400, "the uploaded image"),
    (PNG[:8] + b"\0" * 200, "image/png", 400, "the uploaded image"),
    (png_bytes(np.ones((40, 40))), "image/png", 400, "blank"),
    (png_bytes(np.full((40, 40), 0.5)), "image/png", 400, "blank"),
    (png_of_size(2049, 2049), "image/png", 413, "pixels"),
    (png_of_size(8193, 1), "image/png", 413, "on a side"),
    (png_header_claiming(100_000, 100_000), "image/png", 413, "pixels"),
    (png_header_claiming(0, 0), "image/png", 400, "the uploaded image"),
    (b"", "image/png", 400, "empty"),
    (PNG, "text/plain", 400, "Content-Type"),
    (PNG, "multipart/form-data; boundary=x", 400, "Content-Type"),
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b"\xff\xfe{}", "application/json", 400, "not valid JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "application/json", 400, "not valid JSON"),
    (json_body([1, 2]), "application/json", 400, "expected a JSON object"),
    (json_body({"pixel": [ROW] * 28}), "application/json", 400, "expected a JSON object"),
    (json_body({"pixels": [ROW] * 27}), "application/json", 400, "28 rows of 28"),
    (json_body({"pixels": [ROW[:27]] * 28}), "application/json", 400, "28 rows of 28"),
    (json_body({"pixels": [[[0.0]] * 28] * 28}), "application/json", 400, "numbers only"),
    (json_body({"pixels": [["0"] * 28] * 28}), "application/json", 400, "numbers only"),
    (json_body({"pixels": [[True] * 28] * 28}), "application/json", 400, "numbers only"),
    (json_body({"pixels": [[None] * 28] * 28}), "application/json", 400, "numbers only"),
    (json_body({"pixels": [[2.0] * 28] * 28}), "application/json", 400, "in [0, 1]"),
    (json_body({"pixels": [[-0.1] * 28] * 28}), "application/json", 400, "in [0, 1]"),
    (b'{"pixels": [' + b",".join([b"[" + b",".join([b"NaN"] * 28) + b"]"] * 28) + b"]}", "application/json", 400,
     "in [0, 1]"),
    (b'{"pixels": [' + b",".join([b"[" + b",".join([b"1e999"] * 28) + b"]"] * 28) + b"]}", "application/json", 400,
     "in [0, 1]"),
    (b'{"pixels": [[' + b"9" * 5000 + b"]]}", "application/json", 400, "not valid JSON"),
    (json_body({"pixels": [ROW] * 28}), "application/json", 400, "blank"),
    (json_body({"pixels": [ROW] * 28, "model": "resnet"}), "application/json", 400, "unknown model 'resnet'"),
    (json_body({"pixels": [ROW] * 28, "model": 3}), "application/json", 400, "model"),
    (json_body({"pixels": [ROW] * 28, "arrays": "yes"}), "application/json", 400, "arrays"),
    (json_body({"pixels": [ROW] * 28, "evil": 1}), "application/json", 400, "unknown key"),
]


@pytest.mark.parametrize("body, kind, status, words", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_bodies_get_a_one_line_json_error(server, body, kind, status, words):
    got, response, answer = server.request("POST", "/api/predict", body, {"Content-Type": kind})
    assert got == status and response.getheader("Content-Type") == "application/json"
    assert set(answer) == {"error"} and words in answer["error"], answer
    assert "\n" not in answer["error"] and "Traceback" not in answer["error"]


BAD_QUERIES = ["?model=nope", "?model=", "?modle=lenet", "?model=lenet&model=lenet-2", "?model=lenet&x=1", "?=",
               "?model=%ff%fe", "?" + "&".join(["a=1"] * 50)]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_queries_are_400(server, query):
    status, _, answer = server.request("POST", "/api/predict" + query, PNG, {"Content-Type": "image/png"})
    assert status == 400 and set(answer) == {"error"}


NOT_FOUND = ["/etc/passwd", "/../etc/passwd", "/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd", "/page.html",
             "/tinynet/serve/page.html", "/serve/page.html", "/api", "/api/", "/api/predict/", "/api/models/..",
             "///etc/passwd", "/index.html/", "/index.html%00", "/./", "/..\\..\\etc\\passwd", "/%5c..%5cpage.html",
             "/favicon.ico", "/" + "a" * 5000]


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_paths_are_404_json(server, path):
    for method in ("GET", "POST"):
        status, _, answer = server.request(method, path, b"" if method == "POST" else None)
        assert status == 404 and set(answer) == {"error"}


@pytest.mark.parametrize("method, path, allowed", [("GET", "/api/predict", "POST"), ("PUT", "/api/predict", "POST"),
                                                   ("POST", "/", "GET"), ("DELETE", "/api/models", "GET"),
                                                   ("OPTIONS", "/index.html", "GET"), ("PATCH", "/api/predict", "POST")])
def test_other_methods_are_405_json(server, method, path, allowed):
    status, response, answer = server.request(method, path, b"x" if method != "GET" else None)
    assert status == 405 and response.getheader("Allow") == allowed and set(answer) == {"error"}


def raw(server, data, read_for=5.0):
    """Send raw bytes on a socket; return everything the server sends back before it closes."""
    with socket.create_connection((server.host, server.port), timeout=read_for) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def status_and_json(reply):
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


RAW = [  # (request bytes, status, words in the error)
    (b"POST /api/predict HTTP/1.0\r\nContent-Type: image/png\r\n\r\n", 411, "Content-Length"),
    (b"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411,
     "chunked"),
    (b"POST /api/predict HTTP/1.0\r\nContent-Length: -5\r\n\r\n", 400, "Content-Length"),
    (b"POST /api/predict HTTP/1.0\r\nContent-Length: abc\r\n\r\n", 400, "Content-Length"),
    (b"POST /api/predict HTTP/1.0\r\nContent-Length: 1e3\r\n\r\n", 400, "Content-Length"),
    (b"POST /api/predict HTTP/1.0\r\nContent-Length: \xd9\xa3\r\n\r\n", 400, "Content-Length"),
    (b"POST /api/predict HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "Content-Length"),
    (b"POST /api/predict HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc", 408, "did not arrive"),
    (b"POST /api/predict HTTP/1.0\r\nContent-Length: 999999999999\r\n\r\n", 413, "2,097,152"),
    (b"GARBAGE\r\n\r\n", 400, "request"),
    (b"GET / HTTP/9.9\r\n\r\n", 505, "HTTP"),
    (b"BREW /api/predict HTTP/1.0\r\n\r\n", 501, "BREW"),
    (b"GET /api/models HTTP/1.0\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431, "too long"),
    (b"GET /api/models HTTP/1.0\r\n" + b"X: a\r\n" * 120 + b"\r\n", 431, "many headers"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.0\r\n\r\n", 414, "URI"),
]


@pytest.mark.parametrize("data, status, words", RAW, ids=range(len(RAW)))
def test_broken_http_gets_a_json_error_not_a_hang(server, data, status, words):
    start = time.monotonic()
    got, answer = status_and_json(raw(server, data))
    assert got == status and set(answer) == {"error"} and words.lower() in answer["error"].lower(), answer
    assert time.monotonic() - start < 2.5        # the 408 case waits for the 1 s socket timeout


def test_an_oversized_body_is_refused_before_it_is_read(server):
    body = b"\0" * (3 * 1024 * 1024)
    status, _, answer = server.request("POST", "/api/predict", body, {"Content-Type": "image/png"})
    assert status == 413 and "at most 2,097,152" in answer["error"]


def test_slow_clients_are_cut_off(server):
    """A client sending a header byte every 0.4 s (never a socket timeout) is cut at the 3 s deadline;
    one that stops sending its body is cut at the 1 s socket timeout."""
    start = time.monotonic()
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(b"POST /api/predict HTTP/1.0\r\n")
        try:
            for _ in range(40):
                s.sendall(b"X")
                time.sleep(0.4)
        except OSError:                        # the server closed the connection
            pass
        s.settimeout(2)
        try:
            while s.recv(1024):
                pass
        except OSError:
            pass
    assert 2.5 < time.monotonic() - start < 8
    start = time.monotonic()
    reply = raw(server, b"POST /api/predict HTTP/1.0\r\nContent-Length: 1000\r\n\r\nabc", read_for=10)
    assert time.monotonic() - start < 4 and status_and_json(reply)[0] == 408
    assert server.request("GET", "/api/models")[0] == 200      # and the server serves on


def test_concurrent_requests_each_get_their_own_answer(server, digits):
    """Eight threads, each sending its own digits four times, interleaved with the others."""
    expected = {}
    for k, (digit, label) in enumerate(digits):
        status, _, answer = server.predict(png_bytes(big_page(digit, invert=False)))
        assert status == 200 and answer["top"]["index"] == label
        expected[k] = answer
    results, errors = {}, []

    def client(ks):
        try:
            for _ in range(4):
                for k in ks:
                    status, _, answer = server.predict(png_bytes(big_page(digits[k][0], invert=False)))
                    results.setdefault(k, []).append((status, answer))
        except Exception as e:          # noqa: BLE001 — reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=([2 * t, 2 * t + 1],)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 16
    for k, answers in results.items():
        for status, answer in answers:
            assert status == 200 and answer["top"]["index"] == digits[k][1]
            assert answer["input"] == expected[k]["input"] and answer["saliency"] == expected[k]["saliency"]
            np.testing.assert_allclose(answer["probabilities"], expected[k]["probabilities"], atol=1e-6)


def test_a_full_server_makes_new_connections_wait_not_fail(checkpoint, digits):
    """With 2 slots held by idle clients, a request waits until the 1 s socket timeout ends them, then
    is served; a flood of 24 clients on 3 slots is served whole, in turn."""
    with Running([checkpoint], max_connections=2, timeout=1, deadline=2) as busy:
        idle = [socket.create_connection((busy.host, busy.port)) for _ in range(2)]
        try:
            time.sleep(0.2)
            start = time.monotonic()
            assert busy.request("GET", "/api/models", timeout=10)[0] == 200
            assert 0.5 < time.monotonic() - start < 6
        finally:
            for s in idle:
                s.close()
    with Running([checkpoint], max_connections=3) as busy:
        results = []
        body = png_bytes(big_page(digits[0][0], invert=False))

        def client():
            status, _, answer = busy.predict(body)
            results.append((status, answer.get("top", {}).get("index")))

        threads = [threading.Thread(target=client) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert results == [(200, digits[0][1])] * 24


def test_model_names():
    assert model_names(["runs/cnn/checkpoint.npz", "a/b/lenet.npz", "x/cnn/checkpoint.npz", "checkpoint.npz"])[:3] == \
        ["cnn", "lenet", "cnn-2"]


# --- the command ------------------------------------------------------------------------------

@pytest.fixture
def no_serving(monkeypatch):
    """Make serve_forever return at once, so `tinynet serve` can be run in a test."""
    monkeypatch.setattr(server_module.DigitServer, "serve_forever", lambda self, poll_interval=0.5: None)


def test_serve_without_a_run_says_how_to_make_one(capsys, tmp_path):
    code, _, err = run(capsys, "serve", "--runs", tmp_path / "runs")
    assert code == 2 and "make train" in err and len(err.splitlines()) == 1


def test_serve_uses_the_newest_run(capsys, tmp_path, checkpoint, no_serving):
    import shutil
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        shutil.copy(checkpoint, tmp_path / name / "checkpoint.npz")
        time.sleep(0.02)
    code, out, err = run(capsys, "serve", "--runs", tmp_path, "--port", "0")
    assert code == 0 and f"using the newest run, {tmp_path / 'new' / 'checkpoint.npz'}" in err
    assert "http://127.0.0.1:" in out and "(models: new)" in out and "warning" not in err


def test_serve_warns_about_a_non_local_host(capsys, checkpoint, no_serving):
    code, out, err = run(capsys, "serve", checkpoint, "--host", "0.0.0.0", "--port", "0")
    assert code == 0 and "warning: --host 0.0.0.0" in err and "http://0.0.0.0:" in out


@pytest.mark.parametrize("argv, words", [
    (["serve", "no/such.npz"], "checkpoint no/such.npz does not exist"),
    (["serve", "--port", "70000"], "must be in 0..65535"),
    (["serve", "--port", "http"], "expected a port number"),
    (["serve", "--host", "127.0.0.256", "--port", "0"], "cannot listen on 127.0.0.256"),
    (["serve", "--host", "", "--port", "0"], "expected a host name or address"),
    (["serve", "--host", "http://localhost/", "--port", "0"], "expected a host name or address"),
])
def test_serve_refuses_with_one_line(capsys, checkpoint, argv, words):
    code, _, err = run(capsys, *(argv if "no/such" in argv[1] else argv + [checkpoint]))
    assert code == 2 and words in err and len(err.splitlines()) == 1


def test_serve_refuses_a_damaged_checkpoint(capsys, tmp_path):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    code, _, err = run(capsys, "serve", bad)
    assert code == 2 and str(bad) in err and len(err.splitlines()) == 1


def test_serve_says_when_the_port_is_in_use(capsys, checkpoint):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(capsys, "serve", checkpoint, "--port", port)
    assert code == 2 and f"port {port} on 127.0.0.1 is in use" in err and len(err.splitlines()) == 1


def test_the_page_is_package_data():
    assert server_module.page().startswith(b"<!DOCTYPE html>")


def test_cli_main_knows_serve():
    assert "serve" in cli.COMMAND_MODULES


@pytest.mark.parametrize("shape", [(28, 28), (1, 1), (3, 7), (12, 5, 4), (1, 9, 4)])
def test_encode_png_is_read_back_by_pillow(shape):
    import io
    from PIL import Image
    from tinynet.serve.png import encode_png
    a = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(a)))), a)


@pytest.mark.parametrize("a", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4), np.uint8),
                               np.zeros(4, np.uint8)])
def test_encode_png_refuses_what_it_cannot_write(a):
    from tinynet.serve.png import encode_png
    with pytest.raises(ValueError):
        encode_png(a)


def test_expect_100_continue_is_answered_after_the_checks(server):
    """curl sends ``Expect: 100-continue`` before a body over 1 KB: the server says go on (or refuses) at once."""
    head = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nExpect: 100-continue\r\n"
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(head + b"Content-Length: %d\r\n\r\n" % len(PNG))
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(PNG)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status, answer = status_and_json(reply)
    assert status == 200 and answer["top"]["index"] in range(10) and b"Connection: close" in reply
    status, answer = status_and_json(raw(server, head + b"Content-Length: 5000000\r\n\r\n"))
    assert status == 413 and "5,000,000 bytes" in answer["error"]
    status, answer = status_and_json(raw(server, head.replace(b"/api/predict", b"/nope") + b"Content-Length: 5\r\n\r\n"))
    assert status == 404


def test_other_image_kinds_and_the_model_query(server, digits):
    """JPEG, RGBA with a transparent background (ink only, as a canvas may export it) and no
    Content-Type at all are read; ?model= chooses the model; naming two models differently is a 400."""
    import io
    from PIL import Image
    digit, label = digits[5]
    page = big_page(digit, invert=True)
    grey = Image.fromarray(np.rint(page * 255).astype(np.uint8), "L")
    jpeg, rgba = io.BytesIO(), io.BytesIO()
    grey.convert("RGB").save(jpeg, "JPEG", quality=95)
    ink = np.zeros(page.shape + (4,), np.uint8)
    ink[..., 3] = np.rint((1 - page) * 255).astype(np.uint8)          # black ink, alpha = how much ink
    Image.fromarray(ink, "RGBA").save(rgba, "PNG")
    for body, kind in [(jpeg.getvalue(), "image/jpeg"), (rgba.getvalue(), "image/png"), (rgba.getvalue(), None)]:
        status, _, answer = server.request("POST", "/api/predict?model=lenet-2", body, {"Content-Type": kind} if kind else {})
        assert status == 200 and answer["top"]["index"] == label and answer["model"] == "lenet-2", (kind, answer)
    status, _, answer = server.request("POST", "/api/predict?model=lenet-2", json.dumps({"pixels": digit.tolist(),
                                       "model": "lenet"}), {"Content-Type": "application/json"})
    assert status == 400 and "named twice" in answer["error"]


def test_a_server_failure_is_a_500_json_and_one_log_line(server, monkeypatch, capsys):
    def broken(*args):
        raise RuntimeError("secret detail\nsecond line")
    monkeypatch.setattr(server_module, "answer_predict", broken)
    status, _, answer = server.predict(PNG)
    assert status == 500 and set(answer) == {"error"} and "secret" not in answer["error"]
    log = capsys.readouterr().err
    assert len(log.splitlines()) == 1 and "RuntimeError" in log and "Traceback" not in log


def test_open_opens_the_page_in_the_browser(capsys, checkpoint, no_serving, monkeypatch):
    import webbrowser
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    code, out, _ = run(capsys, "serve", checkpoint, "--port", "0", "--open")
    assert code == 0 and len(opened) == 1 and opened[0].startswith("http://127.0.0.1:") and opened[0] in out
