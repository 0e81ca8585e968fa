#!/usr/bin/env python3
"""test-outputs.py - what operators and programs read from netcarry, checked against the code:
the man pages name every command, option and configuration key the code accepts; the JSON of
`report --json` and `status --json` parses and every field is documented in netcarry(1); the SVG
of `report --svg` renders to a PNG of the documented size; the bash completion offers exactly
the commands and options the CLI has.

TAP on stdout. Environment (meson test sets it): NETCARRY_CLI, NETCARRY_SOURCE_ROOT,
NETCARRY_BUILD_ROOT, NETCARRYD, NETCARRY_MAN_DIR (empty when scdoc is missing: those tests skip).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

CLI = os.environ["NETCARRY_CLI"]
DAEMON = os.environ["NETCARRYD"]
SRC = os.environ["NETCARRY_SOURCE_ROOT"]
MAN = os.environ.get("NETCARRY_MAN_DIR", "")
SVG_SIZE = (960, 600)  # NC_REPORT_SVG_WIDTH x _HEIGHT

results = []


def test(name):
    def wrap(fn):
        results.append((name, fn))
        return fn
    return wrap


class Skip(Exception):
    pass


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def help_options(text):
    """the long options a GOption --help lists (Application Options)"""
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", text, re.M)) - {"--help"}


def cli_commands():
    usage = run(CLI, "--help")
    block = usage.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def man_text(page):
    if not MAN:
        raise Skip("scdoc was not found at configure time: no man pages built")
    with open(os.path.join(MAN, page), encoding="utf-8") as f:
        roff = f.read()
    # plain text: fonts, escapes and zero-width characters out, subsections kept as markers
    roff = re.sub(r"\\f[BIRP]", "", roff)
    roff = roff.replace("\\-", "-").replace("\\&", "").replace("\\(em", "-")
    return roff


def man_bold(page):
    """the roff with its font changes kept (to find bold names), zero-width escapes out"""
    if not MAN:
        raise Skip("scdoc was not found at configure time: no man pages built")
    with open(os.path.join(MAN, page), encoding="utf-8") as f:
        return f.read().replace("\\&", "").replace("\\-", "-")


def subsections(text):
    """{".SS name": body} of a roff page (plain text form)"""
    parts = re.split(r"^\.SS (.*)$", text, flags=re.M)
    return {parts[i].strip().strip('"'): parts[i + 1] for i in range(1, len(parts), 2)}


@test("netcarry(1) documents every command and each command's options")
def _():
    sections = subsections(man_text("netcarry.1"))
    for cmd in cli_commands():
        assert cmd in sections, f"netcarry(1) has no subsection for the command '{cmd}'"
        for opt in help_options(run(CLI, cmd, "--help")):
            assert opt in sections[cmd], f"netcarry(1), '{cmd}': option {opt} is not documented"
    page = man_text("netcarry.1")
    for opt in ("--help", "--version"):
        assert opt in page, f"netcarry(1) lacks {opt}"


@test("netcarryd(8) documents every option of netcarryd")
def _():
    page = man_text("netcarryd.8")
    for opt in help_options(run(DAEMON, "--help")) | {"--help"}:
        assert opt in page, f"netcarryd(8): option {opt} is not documented"


def config_keys():
    """[(group, key)] from the parser's one table in nc-config.c"""
    with open(os.path.join(SRC, "src/daemon/nc-config.c"), encoding="utf-8") as f:
        keys = re.findall(r'^\s*\{"([a-z]+)", "([a-z-]+)", KEY_[A-Z_]+,', f.read(), re.M)
    assert len(keys) >= 15, f"only {len(keys)} keys found in nc-config.c: has its table changed?"
    return keys


@test("netcarry.conf(5) documents every configuration key in its group")
def _():
    bold = subsections(man_bold("netcarry.conf.5"))
    for group, key in config_keys():
        assert f"[{group}]" in bold, f"netcarry.conf(5) has no subsection [{group}]"
        assert f"\\fB{key}\\fR" in bold[f"[{group}]"], \
            f"netcarry.conf(5), [{group}]: key '{key}' is not documented"


@test("the installed netcarry.conf lists every key, commented out, in its group")
def _():
    with open(os.path.join(SRC, "src/daemon/netcarry.conf"), encoding="utf-8") as f:
        groups = re.split(r"^\[([a-z]+)\]$", f.read(), flags=re.M)
    body = {groups[i]: groups[i + 1] for i in range(1, len(groups), 2)}
    for group, key in config_keys():
        assert re.search(rf"^#{re.escape(key)} = ", body.get(group, ""), re.M), \
            f"netcarry.conf: [{group}] lacks '#{key} = DEFAULT'"


def json_paths(value, prefix=""):
    """every member as a dotted path, array elements as []"""
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            yield p
            yield from json_paths(v, p)
    elif isinstance(value, list):
        if value:
            yield prefix + "[]"
        for v in value:
            yield from json_paths(v, prefix + "[]")


def documented(section_title):
    """the bold names of a subsection of netcarry(1): paths ("gate.mode", "carried[]") and
    the member names listed under an array"""
    text = subsections(man_bold("netcarry.1"))[section_title]
    return set(re.findall(r"\\fB([a-z_.\[\]]+)\\fR", text))


def check_documented(paths, names, where):
    for p in paths:
        leaf = re.split(r"[.\[\]]+", p.rstrip("[]"))[-1]
        parent = p[: p.rfind("[]") + 2] if "[]" in p else ""
        # an object or array is documented through its members ("domain" by "domain.uuid")
        ok = (p in names or (parent and parent in names and leaf in names)
              or any(n.startswith(p + ".") or n.startswith(p + "[]") for n in names))
        assert ok, f"{where}: field '{p}' is not documented in netcarry(1)"


def valid_reports():
    d = os.path.join(SRC, "xml", "examples")
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.startswith("report-") and "-invalid." not in f)


@test("report --json: valid JSON, every field documented, every documented path present")
def _():
    names = documented("netcarry report --json")
    seen = set()
    for path in valid_reports():
        doc = json.loads(run(CLI, "report", "--file", path, "--json"))
        assert doc["version"] == 1
        assert doc["migration"]["outcome"] in ("completed", "failed", "cancelled")
        paths = set(json_paths(doc))
        check_documented(paths, names, os.path.basename(path))
        seen |= paths
    for n in names:
        if "." in n or n.endswith("[]"):
            assert n in seen, f"netcarry(1) documents '{n}', which no report's JSON has"


@test("report --json agrees with the XML's figures")
def _():
    path = os.path.join(SRC, "xml", "examples", "report-completed.xml")
    doc = json.loads(run(CLI, "report", "--file", path, "--json"))
    fig = ET.parse(path).getroot().find("{https://netcarry.dev/xmlns/report/1}figures")
    assert doc["figures"]["margin_us"] == int(fig.get("margin-us"))
    assert doc["figures"]["stop_to_installed_us"] == int(fig.get("stop-to-installed-us"))
    assert doc["carried"][0]["installed"] == 1003 and doc["gate"]["held_packets"] == 4


@test("report --json agrees with the XML per class: carried, failures, not carried")
def _():
    ns = "{https://netcarry.dev/xmlns/report/1}"
    for path in valid_reports():
        doc = json.loads(run(CLI, "report", "--file", path, "--json"))
        root = ET.parse(path).getroot()
        name = os.path.basename(path)
        carried = {c.get("class"): c.attrib for c in root.findall(ns + "carried")}
        assert [c["class"] for c in doc["carried"]] == list(carried), name
        for c in doc["carried"]:
            for key in ("precopied", "changed_at_stop", "installed", "failed",
                        "removed_at_source"):
                assert c[key] == int(carried[c["class"]][key.replace("_", "-")]), (name, key)
        for member, tag, what in (("failures", "failure", "entry"),
                                  ("not_carried", "not-carried", "what")):
            xml = [(e.get("class"), e.get(what), e.get("reason"))
                   for e in root.findall(ns + tag)]
            assert [(e["class"], e[what], e["reason"]) for e in doc[member]] == xml, (name, member)


@test("status --json (tests/daemon/data/status.json): valid JSON, every field documented")
def _():
    names = documented("netcarry status --json")
    with open(os.path.join(SRC, "tests/daemon/data/status.json"), encoding="utf-8") as f:
        doc = json.load(f)
    check_documented(set(json_paths(doc)), names, "status.json")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@test("report --svg: well-formed SVG that renders to a 960x600 PNG (rsvg-convert)")
def _():
    rsvg = shutil.which("rsvg-convert")
    if not rsvg:
        raise Skip("rsvg-convert not installed (package librsvg2-bin; test-harness/deps)")
    with tempfile.TemporaryDirectory() as tmp:
        for path in valid_reports():
            name = os.path.basename(path)[:-4]
            svg, png = os.path.join(tmp, name + ".svg"), os.path.join(tmp, name + ".png")
            subprocess.run([CLI, "report", "--file", path, "--svg", svg], check=True,
                           capture_output=True)
            root = ET.parse(svg).getroot()
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert (int(root.get("width")), int(root.get("height"))) == SVG_SIZE
            subprocess.run([rsvg, "-o", png, svg], check=True, capture_output=True)
            assert png_size(png) == SVG_SIZE, f"{name}: rendered {png_size(png)}"
            assert os.path.getsize(png) > 20000, f"{name}: the picture is nearly empty"
            texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
            if name == "report-completed":
                for mark in ("STOP", "sealed", "installed", "gate open", "RESUME",
                             "margin +53.4 ms", "window 72.0 ms", "1003 installed"):
                    assert mark in texts, f"{name}: the picture lacks '{mark}'"
            if name == "report-late":
                assert "installed AFTER the resume" in texts


def complete(words):
    script = os.path.join(SRC, "data", "netcarry.bash-completion")
    cw = " ".join("'" + w + "'" for w in words)
    out = subprocess.run(
        ["bash", "-c", f'source "{script}"; COMP_WORDS=({cw}); COMP_CWORD={len(words) - 1}; '
         '_netcarry; printf "%s\\n" "${COMPREPLY[@]}"'],
        check=True, capture_output=True, text=True).stdout
    return set(out.split())


@test("bash completion offers exactly the CLI's commands and each command's options")
def _():
    cmds = cli_commands()
    assert complete(["netcarry", ""]) - {"--help", "--version"} == set(cmds)
    for cmd in cmds:
        got = complete(["netcarry", cmd, "--"]) - {"--help"}
        want = help_options(run(CLI, cmd, "--help"))
        assert got == want, f"completion for '{cmd}': offers {sorted(got)}, CLI has {sorted(want)}"


def main():
    print(f"1..{len(results)}")
    failed = 0
    for i, (name, fn) in enumerate(results, 1):
        try:
            fn()
            print(f"ok {i} {name}")
        except Skip as e:
            print(f"ok {i} {name} # SKIP {e}")
        except Exception as e:  # an assertion or a command that failed: the test fails
            failed += 1
            print(f"not ok {i} {name}")
            for line in f"{type(e).__name__}: {e}".splitlines():
                print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
