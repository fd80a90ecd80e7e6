#!/usr/bin/env python3
"""make bench-imaged: import throughput and lower-layer handout latency of isola-imaged.

  import     a unified tar.gz (build/images/debian.tar.gz when rootfs/ built it, else a generated
             ~200 MB tree) into an empty private store: MB/s of the image file, median of --runs.
             Side by side: `sha256sum` + `tar -xzf` of the same file (the floor: one hash, one unpack),
             and `incus image import` where Incus is installed (it is not on the dev machine).
  handout    layer.acquire round trip for a new holder of a cached image whose layer is already
             mounted (the common case: an instance starts from an image others use), median of 200;
             and the first acquire that has to set up loop + squashfs mount, median of 20.
Results go to stdout and build/bench/imaged.json."""
import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests/integration/imaged"))
import imaged_util as U  # noqa: E402


def generated_image(work, mib):
    """~mib MiB of rootfs: text-like files (compressible) and binary-like ones (not), in a tree."""
    root = work / "gen" / "rootfs"
    words = b"the quick brown fox jumps over the lazy dog isola image store layer mount squashfs\n"
    total, i = 0, 0
    while total < mib << 20:
        d = root / ("usr/lib/pkg%03d" % (i // 40))
        d.mkdir(parents=True, exist_ok=True)
        size = 16 << 10 if i % 5 else 1 << 20
        data = os.urandom(size) if i % 3 == 0 else (words * (size // len(words) + 1))[:size]
        (d / ("f%05d" % i)).write_bytes(data)
        total += size
        i += 1
    (work / "gen/metadata.yaml").write_text(U.METADATA)
    out = work / "generated.tar.gz"
    subprocess.run(["tar", "-C", str(work / "gen"), "-I", "gzip -1", "-cf", str(out), "metadata.yaml", "rootfs"],
                   check=True)
    shutil.rmtree(work / "gen")
    return out


def median_ms(xs):
    return statistics.median(xs) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(U.IMAGED))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--mib", type=int, default=200)
    a = ap.parse_args()
    U.IMAGED = pathlib.Path(a.bin)
    work = pathlib.Path(tempfile.mkdtemp(prefix="imaged-bench-", dir="/var/tmp"))
    d = None
    try:
        debian = U.IMAGES / "debian.tar.gz"
        img = debian if debian.exists() else generated_image(work, a.mib)
        size_mb = img.stat().st_size / 1e6
        d = U.Daemon(work).start()
        times = []
        for _ in range(a.runs):
            t = time.monotonic()
            fp = d.call("image.import", path=str(img))["fingerprint"]
            times.append(time.monotonic() - t)
            d.call("image.delete", ref=fp)
        floor = []
        for _ in range(a.runs):
            dst = work / "floor"
            dst.mkdir()
            t = time.monotonic()
            subprocess.run(["sha256sum", str(img)], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["tar", "-C", str(dst), "-xzf", str(img)], check=True)
            floor.append(time.monotonic() - t)
            shutil.rmtree(dst)
        incus = shutil.which("incus")

        tree = U.busybox_rootfs(work / "bb")
        meta = U.make_metadata_tarball(work / "meta.tar.gz")
        sq = U.make_squashfs(work / "rootfs.squashfs", tree)
        fp = d.call("image.import", paths=[str(meta), str(sq)])["fingerprint"]
        d.call("layer.acquire", ref=fp, holder="warm")
        warm = []
        for i in range(200):
            t = time.monotonic()
            d.call("layer.acquire", ref=fp, holder="h%d" % i)
            warm.append(time.monotonic() - t)
        for i in range(200):
            d.call("layer.release", ref=fp, holder="h%d" % i)
        d.call("layer.release", ref=fp, holder="warm")
        cold = []
        for i in range(20):
            t = time.monotonic()
            d.call("layer.acquire", ref=fp, holder="cold")
            cold.append(time.monotonic() - t)
            d.call("layer.release", ref=fp, holder="cold")

        res = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": "%s, %d CPUs, kernel %s" % (platform.node(), os.cpu_count(), platform.release()),
            "image": "%s (%.1f MB)" % (img.name, size_mb),
            "import_runs": a.runs,
            "import_median_s": statistics.median(times),
            "import_MBps": size_mb / statistics.median(times),
            "floor_sha256sum_plus_tar_median_s": statistics.median(floor),
            "ratio_vs_floor": statistics.median(times) / statistics.median(floor),
            "incus": "not installed" if not incus else incus,
            "handout_cached_median_ms": median_ms(warm),
            "handout_cached_p90_ms": sorted(warm)[int(len(warm) * 0.9)] * 1000,
            "handout_first_mount_median_ms": median_ms(cold),
        }
        out = U.BUILD / "bench"
        out.mkdir(parents=True, exist_ok=True)
        (out / "imaged.json").write_text(json.dumps(res, indent=2) + "\n")
        print("isola-imaged benchmark  %s  %s" % (res["date"], res["machine"]))
        print("  image                          %s" % res["image"])
        print("  import (median of %d)          %.2f s  = %.1f MB/s" % (a.runs, res["import_median_s"], res["import_MBps"]))
        print("  sha256sum + tar -xzf (floor)   %.2f s  (imaged/floor = %.2f)" % (
            res["floor_sha256sum_plus_tar_median_s"], res["ratio_vs_floor"]))
        print("  incus image import             %s" % ("not installed on this machine" if not incus else "see below"))
        print("  layer.acquire, cached layer    %.2f ms median, %.2f ms p90 (target <= 10 ms)" % (
            res["handout_cached_median_ms"], res["handout_cached_p90_ms"]))
        print("  layer.acquire, first (mount)   %.2f ms median" % res["handout_first_mount_median_ms"])
    finally:
        if d:
            d.stop()
            U.unmount_all_under(d.store)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
