#!/usr/bin/env python3
"""The sim crate's structure check: no upward imports, no circles.

Reads .ci/layers.toml (layers top to bottom, as path prefixes under
sim/src), collects every `crate::` path each file of sim/src uses, resolves
it to the file that defines the module, and fails (exit 1) on
- an import from a layer above the importing file's layer;
- a circle of files importing each other;
- a file that no layer lists.
`lib.rs` is the crate root: it declares every module and re-exports the
entry points, so its own imports are not checked, but nothing else may
import from it.
"""
import os
import re
import sys
import tomllib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "sim", "src")


def files():
    for d, _, names in os.walk(SRC):
        for n in names:
            if n.endswith(".rs"):
                yield os.path.relpath(os.path.join(d, n), SRC).replace(os.sep, "/")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def test_free(text):
    """The file without its `#[cfg(test)] mod ... { ... }` blocks."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def paths(text):
    """Every `crate::a::b` path the code names, group imports expanded."""
    found = set()
    for m in re.finditer(r"crate::((?:\w+::)*)\{", text):
        prefix, j, depth, start = m.group(1), m.end(), 1, m.end()
        items, k = [], start
        while j < len(text) and depth:
            c = text[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "," and depth == 1:
                items.append(text[k:j])
                k = j + 1
            j += 1
        items.append(text[k : j - 1])
        for item in items:
            item = item.strip().split(" as ")[0]
            name = re.match(r"[\w:]*", item).group(0).rstrip(":")
            if name and name != "self":
                found.add(prefix + name)
            elif name == "self" and prefix:
                found.add(prefix.rstrip(":"))
    for m in re.finditer(r"crate::((?:\w+)(?:::\w+)*)", text):
        found.add(m.group(1))
    return found


def crate_of(f):
    """The crate root folder of file `f` ("" for the library, the
    program's folder under bin/ for a program) and its root file."""
    m = re.match(r"(bin/\w+/)", f)
    return (m.group(1), m.group(1) + "main.rs") if m else ("", "lib.rs")


def resolve(path, known, base):
    """The file under `base` that defines the module `path` (longest match)."""
    parts = path.split("::")
    for n in range(len(parts), 0, -1):
        stem = base + "/".join(parts[:n])
        for cand in (stem + ".rs", stem + "/mod.rs"):
            if cand in known:
                return cand
    return None


def main():
    with open(os.path.join(ROOT, ".ci", "layers.toml"), "rb") as f:
        layers = tomllib.load(f)["layers"]
    known = set(files())

    def layer_of(f):
        for i, prefixes in enumerate(layers):
            if any(f == p or (p.endswith("/") and f.startswith(p)) for p in prefixes):
                return i
        return None

    problems, graph = [], {}
    for f in sorted(known):
        if layer_of(f) is None:
            problems.append(f"sim/src/{f}: in no layer of .ci/layers.toml")
            continue
        if f == crate_of(f)[1]:
            continue
        with open(os.path.join(SRC, f), encoding="utf-8") as h:
            text = test_free(strip_comments(h.read()))
        for p in sorted(paths(text)):
            # A name no module file defines is the crate root's.
            base, root = crate_of(f)
            target = resolve(p, known, base) or root
            if target == f:
                continue
            graph.setdefault(f, set()).add(target)
            lt = layer_of(target)
            if lt is not None and lt < layer_of(f):
                problems.append(
                    f"sim/src/{f} (layer {layers[layer_of(f)][0]}) imports "
                    f"crate::{p} from sim/src/{target}, a layer above ({layers[lt][0]})"
                )
    # Circles: strongly connected components of more than one file.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(known):
        if v not in index:
            visit(v)
    for comp in comps:
        problems.append("circle: " + " -> ".join("sim/src/" + c for c in comp))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} structure problem(s); see .ci/layers.toml")
        return 1
    print(f"structure: {len(known)} files in {len(layers)} layers, no upward import, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
