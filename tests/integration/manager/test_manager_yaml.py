"""YAML where Incus takes YAML: `admin init --preseed`, `config edit`, `profile edit` accept YAML (Incus's
layout) as well as JSON; hostile YAML is refused with a message naming what was wrong, changing nothing."""
import json

from mgr_util import ISOLA  # noqa: F401  (the fixture module)


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    "%s: &%s [%s]\n" % (c, c, ", ".join(["*" + chr(ord(c) - 1)] * 9)) for c in "bcdefghi")


def test_config_edit_takes_yaml(isola, name):
    isola.run("init", "busybox", name)
    doc = ("config:\n"
           "  limits.processes: 300   # a number in YAML, a string in the config (Incus: map[string]string)\n"
           "  user.note: '010'\n"
           "devices: {}\n"
           "profiles:\n"
           "- default\n"
           "description: edited in YAML\n")
    isola.run("config", "edit", name, input=doc)
    i = isola.instance(name)
    assert i["config"] == {"limits.processes": "300", "user.note": "010"}, i["config"]
    assert i["description"] == "edited in YAML"
    # what `config show` prints reads back unchanged (it is YAML)
    shown = isola.run("config", "show", name).stdout
    isola.run("config", "edit", name, input=shown)
    assert isola.instance(name)["config"] == {"limits.processes": "300", "user.note": "010"}
    # JSON still works
    isola.run("config", "edit", name, input=json.dumps({"config": {"user.note": "json"}}))
    assert isola.instance(name)["config"] == {"user.note": "json"}
    isola.run("delete", name)


def test_hostile_yaml_is_refused_and_changes_nothing(isola, name):
    isola.run("init", "busybox", name)
    isola.run("config", "set", name, "user.keep=yes")
    before = isola.instance(name)["config"]
    assert before["user.keep"] == "yes"
    cases = [
        (BOMB, "anchors"),
        ("config: *nowhere\n", "alias"),
        ("config:\n  user.a: 1\n  user.a: 2\n", "duplicate key \"user.a\""),
        ("? [config]\n: {}\n", "mapping key must be a scalar"),
        ("config:\n" + "".join("%s k%d:\n" % (" " * (2 * i), i) for i in range(1, 40)), "deeper than 32"),
        ("config: {user.a: !!python/object:os.system x}\n", "tag"),
        ("config: {user.a: \"x\\0y\"}\n", "NUL"),
        ("- config\n", "expected a mapping"),
        ("config: [1\n", "line"),
    ]
    for text, why in cases:
        p = isola.run("config", "edit", name, input=text, check=False)
        assert p.returncode != 0, "accepted: %r" % text
        assert why in p.stderr and "stdin" in p.stderr, (why, p.stderr)
        assert isola.instance(name)["config"] == before, "changed by %r" % text
    # a nested mapping as a config value is a clear error too (config values are strings)
    p = isola.run("config", "edit", name, input="config:\n  user.a:\n    b: c\n", check=False)
    assert p.returncode != 0 and "user.a" in p.stderr, p.stderr
    isola.run("delete", name)


def test_profile_edit_takes_yaml(isola, name):
    prof = "y-" + name[:40]
    isola.run("profile", "create", prof)
    isola.run("profile", "edit", prof, input="description: from YAML\nconfig:\n  limits.memory: 64MiB\n"
              "devices:\n  root: {type: disk, path: /, pool: default}\n")
    assert isola.run("profile", "get", prof, "limits.memory").stdout.strip() == "64MiB"
    p = isola.run("profile", "edit", prof, input=BOMB, check=False)
    assert p.returncode != 0 and "anchors" in p.stderr, p.stderr
    assert isola.run("profile", "get", prof, "limits.memory").stdout.strip() == "64MiB"
    isola.run("profile", "delete", prof)


def test_preseed_yaml(isola, name, tmp_path):
    prof = "pre-" + name[:40]
    f = tmp_path / "preseed.yaml"
    # Incus's layout; a pool and network the fixture made already are not repeated (names are unique)
    f.write_text("config: {}\n"
                 "profiles:\n"
                 "- name: %s\n"
                 "  config:\n"
                 "    limits.cpu: 2\n"
                 "    security.nesting: true\n"
                 "  devices:\n"
                 "    root:\n"
                 "      path: /\n"
                 "      pool: default\n"
                 "      type: disk\n" % prof)
    isola.run("admin", "init", "--preseed", str(f))
    assert isola.run("profile", "get", prof, "limits.cpu").stdout.strip() == "2"
    assert isola.run("profile", "get", prof, "security.nesting").stdout.strip() == "true"
    isola.run("profile", "delete", prof)
    # a bad entry late in the document changes nothing, not even the good entries before it
    bad = prof + "-x"
    f.write_text("profiles:\n- name: %s\n  config: {limits.cpu: 2}\n- name: other\n  config:\n"
                 "    limits.cpu: {nested: map}\n" % bad)
    p = isola.run("admin", "init", "--preseed", str(f), check=False)
    assert p.returncode != 0 and "profiles[1].config.limits.cpu" in p.stderr, p.stderr
    assert bad not in isola.run("profile", "list").stdout
    # hostile YAML through --preseed, from stdin
    p = isola.run("admin", "init", "--preseed", "-", input=BOMB, check=False)
    assert p.returncode != 0 and "anchors" in p.stderr and "preseed" in p.stderr, p.stderr
    p = isola.run("admin", "init", "--preseed", "-", input="config:\n  core.https_address: :8443\n", check=False)
    assert p.returncode != 0 and "core.https_address" in p.stderr, p.stderr
