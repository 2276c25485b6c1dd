#!/usr/bin/env python3
"""(The team's shared layering check, kept here so `make lint` runs on a fresh clone.)
Import cycles between the files of a Rust crate (approximate, from `use` paths and inline
`crate::`/`super::` paths, each name resolved to the file that defines it).
Usage: cycles.py SRC_DIR  -> prints each cycle (a strongly connected group of files); exit 1 if any."""
import os, re, sys
from collections import defaultdict

src = sys.argv[1]
files = {}  # module path tuple -> file
for root, _, names in os.walk(src):
    for n in names:
        if not n.endswith('.rs'):
            continue
        rel = os.path.relpath(os.path.join(root, n), src)[:-3].split(os.sep)
        if rel[-1] in ('mod', 'lib', 'main'):
            rel = rel[:-1]
        files[tuple(rel)] = os.path.join(root, n)

ITEM = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+|const\s+|unsafe\s+)*(?:struct|enum|fn|trait|type|const|static|union|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)', re.M)
defs = {m: set(ITEM.findall(open(f).read())) for m, f in files.items()}

def strip_comments(t):
    t = re.sub(r'//[^\n]*', '', t)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', t)

def expand_use(body):
    """'a::{b, c::{d, e}}' -> ['a::b', 'a::c::d', 'a::c::e']"""
    body = body.strip()
    i = body.find('{')
    if i < 0:
        return [re.sub(r'\s+as\s+\w+$', '', body)]
    prefix, inner = body[:i], body[i + 1:body.rfind('}')]
    parts, depth, cur = [], 0, ''
    for ch in inner:
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''; continue
        depth += (ch == '{') - (ch == '}')
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            out += [prefix + x for x in expand_use(p)]
    return out

def resolve(mod, path):
    segs = [s for s in path.split('::') if s]
    if not segs:
        return None
    if segs[0] == 'crate':
        base, segs = (), segs[1:]
    elif segs[0] in ('super', 'self'):
        base = mod
        is_dir_mod = os.path.basename(files[mod]) in ('mod.rs', 'lib.rs', 'main.rs')
        while segs and segs[0] in ('super', 'self'):
            if segs[0] == 'super':
                base = base[:-1] if is_dir_mod or True else base
                is_dir_mod = True
            segs = segs[1:]
        if path.startswith('super') and os.path.basename(files[mod]) in ('mod.rs',):
            base = mod[:-1]
        elif path.startswith('super'):
            base = mod[:-1]
    else:
        return None
    cur = base
    for s in segs:
        if s in ('self', '*'):
            return files.get(cur)
        if cur + (s,) in files:
            cur = cur + (s,)
            continue
        # s is an item: find the file in cur's subtree that defines it
        if s in defs.get(cur, ()):
            return files.get(cur)
        for m in files:
            if m[:len(cur)] == cur and s in defs[m]:
                return files[m]
        return files.get(cur)
    return files.get(cur)

edges = defaultdict(set)
for mod, f in files.items():
    text = strip_comments(open(f).read())
    paths = []
    for m in re.finditer(r'\buse\s+([^;]+);', text):
        paths += expand_use(m.group(1))
    paths += re.findall(r'\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)', text)
    for p in paths:
        t = resolve(mod, p.replace(' ', '').replace('\n', ''))
        if t and t != f:
            edges[f].add(t)

# Tarjan SCC
index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
def sc(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            sc(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in list(files.values()):
    if v not in index:
        sc(v)
file_cycles = out
# The same between top-level modules (a folder counts as one module).
top = lambda f: os.path.relpath(f, src).split(os.sep)[0].removesuffix('.rs')
tedges = defaultdict(set)
for a, bs in list(edges.items()):
    for b in bs:
        if top(a) != top(b) and top(a) not in ('lib', 'main'):
            tedges[top(a)].add(top(b))
edges, index, low, stack, on, out, n = tedges, {}, {}, [], set(), [], [0]
for v in list(tedges):
    if v not in index:
        sc(v)
for c in file_cycles:
    print('file cycle:', ' '.join(os.path.relpath(x, src) for x in c))
for c in out:
    print('module cycle:', ' '.join(c))
print(f'{len(file_cycles)} file cycles among {len(files)} files, {len(out)} module cycles')
sys.exit(1 if file_cycles or out else 0)
