"""isola-agent file push/pull over a unix socket through `isola agent push|pull`: contents, modes and
owners round trip; non-regular targets are refused with an error saying what they are."""
import os
import stat

from agent_util import isola


def test_push_pull_round_trip_with_mode_and_owner(agent, tmp_path):
    src = tmp_path / "src"
    data = os.urandom(300 * 1024 + 7)  # several frames and a short last one
    src.write_bytes(data)
    os.chmod(src, 0o640)
    dst = tmp_path / "dst"
    p = isola("agent", "push", agent.addr, str(src), str(dst), "--uid", "1", "--gid", "2")
    assert p.returncode == 0, p.stderr
    st = os.stat(dst)
    assert dst.read_bytes() == data
    assert stat.S_IMODE(st.st_mode) == 0o640 and (st.st_uid, st.st_gid) == (1, 2), st
    # an explicit mode wins; an existing file keeps its owner when none is given
    p = isola("agent", "push", agent.addr, str(src), str(dst), "--mode", "0600")
    assert p.returncode == 0, p.stderr
    st = os.stat(dst)
    assert stat.S_IMODE(st.st_mode) == 0o600 and (st.st_uid, st.st_gid) == (1, 2), st
    back = tmp_path / "back"
    p = isola("agent", "pull", agent.addr, str(dst), str(back))
    assert p.returncode == 0, p.stderr
    assert back.read_bytes() == data
    # no temporary file left beside the target
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(".isola-agent")) == []


def test_empty_file_and_stdio(agent, tmp_path):
    p = isola("agent", "push", agent.addr, "-", str(tmp_path / "empty"), input=b"")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "empty").read_bytes() == b""
    p = isola("agent", "pull", agent.addr, str(tmp_path / "empty"), "-")
    assert p.returncode == 0 and p.stdout == b"", p.stderr


def test_push_through_a_symlink_replaces_the_file_it_names(agent, tmp_path):
    (tmp_path / "real").write_text("old")
    os.symlink("real", tmp_path / "link")
    p = isola("agent", "push", agent.addr, "-", str(tmp_path / "link"), input=b"new")
    assert p.returncode == 0, p.stderr
    assert os.path.islink(tmp_path / "link") and (tmp_path / "real").read_text() == "new"


def test_non_regular_targets_are_refused(agent, tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for path, what in ((tmp_path / "dir", b"is a directory"), (tmp_path / "fifo", b"is a FIFO"),
                       ("/dev/null", b"is a character device")):
        p = isola("agent", "pull", agent.addr, str(path), str(tmp_path / "out"), timeout=20)
        assert p.returncode != 0 and what + b", not a regular file" in p.stderr, (path, p.stderr)
        p = isola("agent", "push", agent.addr, "-", str(path), input=b"x", timeout=20)
        assert p.returncode != 0 and what + b", not a regular file" in p.stderr, (path, p.stderr)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode), "the FIFO was replaced"
    os.symlink("nowhere", tmp_path / "dangling")
    p = isola("agent", "push", agent.addr, "-", str(tmp_path / "dangling"), input=b"x")
    assert p.returncode != 0 and b"dangling symlink" in p.stderr, p.stderr


def test_missing_and_relative_paths(agent, tmp_path):
    p = isola("agent", "pull", agent.addr, str(tmp_path / "nope"), str(tmp_path / "out"))
    assert p.returncode != 0 and b"No such file or directory" in p.stderr, p.stderr
    p = isola("agent", "push", agent.addr, "-", str(tmp_path / "no" / "dir" / "f"), input=b"x")
    assert p.returncode != 0 and b"No such file or directory" in p.stderr, p.stderr
    p = isola("agent", "push", agent.addr, "-", "relative/path", input=b"x")
    assert p.returncode != 0 and b"must be an absolute path" in p.stderr, p.stderr
