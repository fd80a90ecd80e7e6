"""Simplestreams: generate a tree from a store, serve it over HTTPS on 127.0.0.1 with a test-made
certificate, pull it into another store verifying every sha256; https import of a unified file."""
import errno
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

import imaged_util as U

HERE = pathlib.Path(__file__).parent


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make the test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def serve(cert):
    procs = []

    def start(directory):
        p = subprocess.Popen(["/usr/bin/python3", str(HERE / "https_server.py"), str(directory), str(cert[0]),
                              str(cert[1])], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        port = int(p.stdout.readline())
        return "https://127.0.0.1:%d" % port

    yield start
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
def served_tree(daemon_factory, unified_image, split_image, tmp_path, serve):
    src = daemon_factory("src")
    fu = src.call("image.import", path=str(unified_image), aliases=["bb/unified"])["fingerprint"]
    fs = src.call("image.import", paths=[str(p) for p in split_image], aliases=["bb/split"])["fingerprint"]
    src.call("image.properties", ref=fs, set={"variant": "squash"})
    tree = tmp_path / "ss"
    r = src.call("simplestreams.generate", dir=str(tree))
    assert r["products"] == 2
    return tree, serve(tree), fu, fs


def test_generate_layout(served_tree):
    tree, _, fu, fs = served_tree
    index = json.loads((tree / "streams/v1/index.json").read_text())
    assert index["format"] == "index:1.0"
    entry = index["index"]["images"]
    assert entry["datatype"] == "image-downloads" and entry["path"] == "streams/v1/images.json"
    images = json.loads((tree / "streams/v1/images.json").read_text())
    assert images["format"] == "products:1.0" and images["content_id"] == "images"
    prods = images["products"]
    assert set(prods) == {"busybox:1.36:default:amd64", "busybox:1.36:squash:amd64"}
    p = prods["busybox:1.36:squash:amd64"]
    assert p["aliases"] == "bb/split" and p["arch"] == "amd64"
    (ver, v), = p["versions"].items()
    assert ver.startswith("20231114")
    items = v["items"]
    assert items["incus.tar.xz"]["combined_squashfs_sha256"] == fs
    for it in items.values():
        assert U.sha256sum(tree / it["path"]) == it["sha256"]
        assert (tree / it["path"]).stat().st_size == it["size"]


def test_pull_by_alias_and_product(served_tree, daemon_factory, cert):
    tree, url, fu, fs = served_tree
    dst = daemon_factory("dst")
    progress = []
    r = dst.call("simplestreams.pull", progress=progress, url=url, alias="bb/split", ca_file=str(cert[0]),
                 aliases=["local"])
    assert r["fingerprint"] == fs and r["already"] is False
    assert r["image"]["source"].startswith("simplestreams:https://127.0.0.1:")
    assert dst.call("image.show", ref="local")["image"]["fingerprint"] == fs
    r = dst.call("simplestreams.pull", url=url + "/", product="busybox:1.36:default:amd64", ca_file=str(cert[0]))
    assert r["fingerprint"] == fu
    # refresh: nothing new on the server → nothing downloaded, reported as already present
    assert dst.call("simplestreams.pull", url=url, alias="bb/split", ca_file=str(cert[0]))["already"] is True
    assert dst.tmp_dirs() == []


def test_pull_sha256_mismatch(served_tree, daemon_factory, cert):
    tree, url, fu, fs = served_tree
    images = json.loads((tree / "streams/v1/images.json").read_text())
    items = next(iter(images["products"]["busybox:1.36:squash:amd64"]["versions"].values()))["items"]
    sq = tree / items["root.squashfs"]["path"]
    data = bytearray(sq.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    sq.write_bytes(bytes(data))
    dst = daemon_factory("dst")
    with pytest.raises(U.ImagedError) as e:
        dst.call("simplestreams.pull", url=url, alias="bb/split", ca_file=str(cert[0]))
    assert e.value.errno == errno.EBADMSG and "sha256 mismatch" in str(e.value), str(e.value)
    assert dst.call("image.list")["images"] == [] and dst.tmp_dirs() == []


def test_pull_refuses_untrusted_certificate_and_http(served_tree, daemon_factory):
    tree, url, fu, fs = served_tree
    dst = daemon_factory("dst")
    with pytest.raises(U.ImagedError) as e:
        dst.call("simplestreams.pull", url=url, alias="bb/split")  # no ca_file: system CAs do not know it
    assert "certificate" in str(e.value).lower() or e.value.errno == errno.EACCES, str(e.value)
    with pytest.raises(U.ImagedError) as e:
        dst.call("simplestreams.pull", url=url.replace("https", "http"), alias="bb/split")
    assert "only https" in str(e.value)
    with pytest.raises(U.ImagedError) as e:
        dst.call("simplestreams.pull", url=url, alias="no/such", ca_file="/dev/null")
    assert dst.tmp_dirs() == []


def test_https_url_import(served_tree, daemon_factory, cert, unified_image):
    tree, url, fu, fs = served_tree
    images = json.loads((tree / "streams/v1/images.json").read_text())
    items = next(iter(images["products"]["busybox:1.36:default:amd64"]["versions"].values()))["items"]
    dst = daemon_factory("dst")
    r = dst.call("image.import", url=url + "/" + items["incus_combined.tar.gz"]["path"], ca_file=str(cert[0]))
    assert r["fingerprint"] == fu == U.sha256sum(unified_image)
    with pytest.raises(U.ImagedError) as e:
        dst.call("image.import", url=url + "/images/missing.tar.gz", ca_file=str(cert[0]))
    assert e.value.errno == errno.ENOENT and "404" in str(e.value)
    assert dst.tmp_dirs() == []


def test_refresh_moves_alias_to_the_newer_version(daemon_factory, tmp_path, busybox_tree, serve, cert):
    src = daemon_factory("src")
    v1 = U.make_unified(tmp_path / "v1.tar.gz", busybox_tree)
    f1 = src.call("image.import", path=str(v1), aliases=["bb"])["fingerprint"]
    tree = tmp_path / "ss"
    src.call("simplestreams.generate", dir=str(tree))
    url = serve(tree)
    dst = daemon_factory("dst")
    assert dst.call("simplestreams.pull", url=url, alias="bb", ca_file=str(cert[0]), aliases=["bb"])["fingerprint"] == f1
    # the server gets a newer build of the same product
    v2 = U.make_unified(tmp_path / "v2.tar.gz", busybox_tree, metadata=U.METADATA.replace("1700000000", "1700090000"))
    f2 = src.call("image.import", path=str(v2))["fingerprint"]
    src.call("simplestreams.generate", dir=str(tree))
    images = json.loads((tree / "streams/v1/images.json").read_text())
    assert len(images["products"]["busybox:1.36:default:amd64"]["versions"]) == 2
    with pytest.raises(U.ImagedError) as e:  # without refresh a taken alias is an error, before any download
        dst.call("simplestreams.pull", url=url, alias="bb", ca_file=str(cert[0]), aliases=["bb"])
    assert e.value.errno == errno.EEXIST
    r = dst.call("simplestreams.pull", url=url, alias="bb", ca_file=str(cert[0]), aliases=["bb"], refresh=True)
    assert r["fingerprint"] == f2 and r["already"] is False, "refresh must take the newest version"
    assert dst.call("image.show", ref="bb")["image"]["fingerprint"] == f2
    assert {i["fingerprint"] for i in dst.call("image.list")["images"]} == {f1, f2}
    r = dst.call("simplestreams.pull", url=url, alias="bb", ca_file=str(cert[0]), aliases=["bb"], refresh=True)
    assert r["already"] is True
