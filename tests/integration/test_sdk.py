"""A third party builds the example plugin out of tree, against an installed
SDK, with nothing but cc and pkg-config, and assistd loads it."""
import glob
import json
import os
import shutil
import subprocess
import tempfile

from assistd_test import SOURCE_ROOT, Daemon, base_config, run

BUILD_ROOT = os.environ.get("BUILD_ROOT", "build")


def test_out_of_tree_example_plugin():
    dest = tempfile.mkdtemp(prefix="assist-sdk-")
    subprocess.run(["meson", "install", "--no-rebuild", "--quiet",
                    "--destdir", dest, "-C", BUILD_ROOT], check=True,
                   stdout=subprocess.DEVNULL)
    (pc,) = glob.glob(os.path.join(dest, "**", "assist-plugin.pc"),
                      recursive=True)
    env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=dest,
               PKG_CONFIG_PATH=os.path.dirname(pc))
    cflags = subprocess.run(["pkg-config", "--cflags", "assist-plugin"],
                            env=env, capture_output=True, text=True,
                            check=True).stdout.split()
    assert any(f.startswith("-I" + dest) for f in cflags), cflags
    work = tempfile.mkdtemp(prefix="assist-hello-")
    src = shutil.copy(os.path.join(SOURCE_ROOT, "sdk", "examples", "hello",
                                   "hello.c"), work)
    so = os.path.join(work, "hello.so")
    # Exactly the documented command line; -Werror so warnings count.
    subprocess.run(["cc", "-shared", "-fPIC", *cflags, "-Wall", "-Wextra",
                    "-Werror", src, "-o", so], check=True, cwd=work)
    with Daemon(base_config(plugins="""
  - name: third-party
    plugin: hello
    path: %s
    options:
      prefix: /tp
      greeting: built out of tree
""" % so)) as d:
        st, _, body = d.request("GET", "/tp/ada")
        assert st == 200, body
        assert json.loads(body)["greeting"] == "built out of tree, ada"
        inst = d.get_json("/api/plugins")["instances"][0]
        assert inst["path"] == so and inst["abi"] == "1.2"
        assert d.stop() == 0


if __name__ == "__main__":
    run([test_out_of_tree_example_plugin])
