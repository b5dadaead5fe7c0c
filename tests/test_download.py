"""data_tools.download against a local HTTP server: good, corrupted, cut-off and missing files."""

import hashlib
import http.server
import io
import socket
import threading

import pytest

from data_tools import download as dl
from data_tools.__main__ import main

PAYLOAD = {"a.gz": b"first file " * 5000, "b.gz": b"second file " * 300}
FILES = {name: hashlib.md5(data).hexdigest() for name, data in PAYLOAD.items()}


class Handler(http.server.BaseHTTPRequestHandler):
    """/good/NAME the file; /bad/NAME one byte flipped; /cut/NAME half, then the connection
    closes though Content-Length promised all; anything else 404."""

    requests = []

    def do_GET(self):
        Handler.requests.append(self.path)
        _, kind, name = self.path.split("/", 2) if self.path.count("/") >= 2 else ("", "", "")
        data = PAYLOAD.get(name)
        if data is None or kind not in ("good", "bad", "cut"):
            self.send_error(404, "Not Found")
            return
        if kind == "bad":
            data = bytes([data[0] ^ 1]) + data[1:]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if kind == "cut" else data)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def refused_url():
    """A URL on a port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def fetch_all(mirrors, dest, progress=None):
    return dl.download("test-set", dest, mirrors=mirrors, files=FILES, timeout=5, progress=progress)


def test_good_download(server, tmp_path):
    paths = fetch_all([server + "/good/"], tmp_path / "out")
    assert [p.name for p in paths] == ["a.gz", "b.gz"]
    for p in paths:
        assert p.read_bytes() == PAYLOAD[p.name]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.gz", "b.gz"]  # no temp files


def test_present_files_are_not_fetched_again(server, tmp_path):
    fetch_all([server + "/good/"], tmp_path)
    Handler.requests.clear()
    log = io.StringIO()
    fetch_all([server + "/good/"], tmp_path, progress=log)
    assert Handler.requests == [] and "already present" in log.getvalue()


def test_corrupted_file_is_a_checksum_error_and_leaves_nothing(server, tmp_path):
    with pytest.raises(dl.DownloadError) as info:
        fetch_all([server + "/bad/"], tmp_path)
    message = str(info.value)
    assert "checksum error" in message and FILES["a.gz"] in message and server + "/bad/a.gz" in message
    assert list(tmp_path.iterdir()) == []


def test_cut_connection_is_a_clear_error_and_leaves_nothing(server, tmp_path):
    with pytest.raises(dl.DownloadError) as info:
        fetch_all([server + "/cut/"], tmp_path)
    message = str(info.value)
    assert "connection closed after" in message and "incomplete" in message
    assert list(tmp_path.iterdir()) == []


def test_404_on_first_mirror_falls_through(server, tmp_path):
    log = io.StringIO()
    paths = fetch_all([server + "/missing/", server + "/good/"], tmp_path, progress=log)
    assert all(p.read_bytes() == PAYLOAD[p.name] for p in paths)
    assert "HTTP 404" in log.getvalue()


def test_refused_connection_and_bad_file_fall_through(server, refused_url, tmp_path):
    paths = fetch_all([refused_url, server + "/bad/", server + "/cut/", server + "/good/"], tmp_path)
    assert all(p.read_bytes() == PAYLOAD[p.name] for p in paths)


def test_final_error_lists_every_mirror_and_why(server, refused_url, tmp_path):
    mirrors = [server + "/missing/", refused_url, server + "/bad/", server + "/cut/"]
    with pytest.raises(dl.DownloadError) as info:
        fetch_all(mirrors, tmp_path)
    lines = str(info.value).splitlines()
    assert "a.gz" in lines[0]
    assert len(lines) == 5
    assert "HTTP 404" in lines[1]
    assert "cannot connect" in lines[2]
    assert "checksum error" in lines[3]
    assert "connection closed" in lines[4]
    assert list(tmp_path.iterdir()) == []


def test_a_bad_download_keeps_the_old_good_file(server, tmp_path):
    (tmp_path / "a.gz").write_bytes(b"old, wrong content")
    with pytest.raises(dl.DownloadError):
        fetch_all([server + "/bad/"], tmp_path)
    assert (tmp_path / "a.gz").read_bytes() == b"old, wrong content"
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]


def test_canonical_tables():
    assert dl.MIRRORS["mnist"][0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert len(dl.MIRRORS["mnist"]) == 3 and len(dl.MIRRORS["fashion-mnist"]) == 1
    assert set(dl.GZ_MD5["mnist"]) == set(dl.GZ_MD5["fashion-mnist"]) == {
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    }


# --- the command line, with the canonical mirrors replaced by the local server --------------

@pytest.fixture
def local_tables(monkeypatch, server):
    monkeypatch.setitem(dl.GZ_MD5, "fashion-mnist", FILES)
    monkeypatch.setitem(dl.MIRRORS, "fashion-mnist", [server + "/missing/"])


def test_cli_mirror_is_tried_first(local_tables, server, tmp_path, capsys):
    assert main(["download", "fashion-mnist", "--dest", str(tmp_path), "--mirror", server + "/good/"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gz", "b.gz"]
    assert str(tmp_path) in capsys.readouterr().out


def test_cli_failure_exits_2_with_the_mirror_list(local_tables, server, tmp_path, capsys):
    assert main(["download", "fashion-mnist", "--dest", str(tmp_path), "--mirror", server + "/bad/"]) == 2
    err = capsys.readouterr().err
    assert "checksum error" in err and "HTTP 404" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_default_dest_uses_tinynet_data(local_tables, server, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYNET_DATA", str(tmp_path))
    assert main(["download", "fashion-mnist", "--mirror", server + "/good/"]) == 0
    assert (tmp_path / "fashion-mnist" / "a.gz").read_bytes() == PAYLOAD["a.gz"]
