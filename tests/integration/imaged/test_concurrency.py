"""Long requests run in worker processes: the daemon keeps answering (layer handouts for instance
starts) while an import runs, and concurrent imports of the same bytes end with one image."""
import json
import socket
import threading

import imaged_util as U
from test_faults import zeros_image


def test_requests_answered_while_an_import_runs(imaged, split_image, tmp_path):
    fp = imaged.call("image.import", paths=[str(p) for p in split_image])["fingerprint"]
    big = zeros_image(tmp_path / "big.tar.gz", 256)
    conn = imaged.connect()
    conn.sendall(json.dumps({"op": "image.import", "path": str(big), "aliases": ["big"]}).encode())
    assert b'"start"' in conn.recv(65536)
    # while the worker unpacks 256 MiB, the daemon hands out a layer and answers status
    r = imaged.call("layer.acquire", ref=fp, holder="inst1")
    assert r["mounted"] is True
    st = imaged.call("status")
    conn.setblocking(False)
    pending = []
    try:
        while True:
            pending.append(json.loads(conn.recv(65536)))
    except BlockingIOError:
        pass
    assert not any("ok" in m for m in pending), "the import finished before the other requests were answered"
    conn.setblocking(True)
    while True:
        m = json.loads(conn.recv(65536))
        if "ok" in m:
            break
    assert m["ok"] is True and m["image"]["aliases"] == ["big"], m
    assert imaged.call("image.show", ref="big")["image"]["fingerprint"] == U.sha256sum(big)
    imaged.call("layer.release", ref=fp, holder="inst1")


def test_concurrent_imports_of_the_same_image(imaged, tmp_path):
    img = zeros_image(tmp_path / "same.tar.gz", 64)
    results = [None] * 3

    def run(i):
        try:
            results[i] = imaged.call("image.import", path=str(img), aliases=["same%d" % i])
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert isinstance(r, dict), r
    assert {r["fingerprint"] for r in results} == {U.sha256sum(img)}
    assert len(imaged.image_dirs()) == 1 and imaged.tmp_dirs() == []
    aliases = sorted(a["name"] for a in imaged.call("alias.list")["aliases"])
    assert aliases == ["same0", "same1", "same2"]


def test_silent_client_does_not_stall_the_daemon(imaged):
    idle = imaged.connect()  # connects, never sends
    half = imaged.connect()
    try:
        # with a blocking read of idle's request the daemon could not answer this one at all
        c = imaged.connect()
        c.settimeout(3)
        c.sendall(b'{"op": "status"}')
        assert json.loads(c.recv(65536))["images"] == 0
        c.close()
        half.sendall(b'{"op": "image.list"}')
        assert json.loads(half.recv(65536))["images"] == []
    finally:
        idle.close()
        half.close()
