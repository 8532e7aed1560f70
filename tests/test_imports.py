"""No import circle in jaxir/: every module is parsed with `ast`, its imports of jaxir modules collected
(top-level AND inside functions: a function-level import is an arrow all the same), and the graph checked
for cycles (strongly connected components of more than one module), each named in the failure.

`from jaxir.a import b` is an arrow to the module jaxir.a.b when that is a module, else to jaxir.a; the
parent packages Python also initialises on the way are not counted (a package's __init__ is its own node,
reached only by importing the package itself)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Cycles outside the benchmark registry's area, left for their owners; each is a frozenset of module names.
KNOWN = set()   # import circles tolerated for now: none


def modules(root=ROOT):
  """{module name: path} of every module under jaxir/."""
  out = {}
  for p in sorted((root / "jaxir").rglob("*.py")):
    rel = p.relative_to(root).with_suffix("")
    out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = p
  return out


def graph(mods):
  """{module: {jaxir modules it imports, anywhere in its code}}."""
  def known(name):
    while name and name not in mods:
      name = name.rpartition(".")[0]
    return name

  out = {}
  for name, path in mods.items():
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    deps = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
      if isinstance(node, ast.Import):
        deps |= {known(a.name) for a in node.names if a.name == "jaxir" or a.name.startswith("jaxir.")}
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:                                  # relative: from the package `level` up
          parts = package.split(".")[:len(package.split(".")) - node.level + 1]
          base = ".".join(parts + ([base] if base else []))
        if base == "jaxir" or base.startswith("jaxir."):
          deps |= {f"{base}.{a.name}" if f"{base}.{a.name}" in mods else known(base) for a in node.names}
    deps.discard(name)
    deps.discard("")
    out[name] = deps
  return out


def cycles(g):
  """The strongly connected components of more than one module (Tarjan), each sorted."""
  index, low, stack, on, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in sorted(g.get(v, ())):
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
        found.append(sorted(comp))

  for v in sorted(g):
    if v not in index:
      visit(v)
  return found


def test_the_checker_finds_a_circle_through_a_function_level_import(tmp_path):
  pkg = tmp_path / "jaxir" / "sub"
  pkg.mkdir(parents=True)
  (tmp_path / "jaxir" / "__init__.py").write_text("")
  (pkg / "__init__.py").write_text("")
  (pkg / "a.py").write_text("from jaxir.sub import b\n")
  (pkg / "b.py").write_text("def f():\n  from . import c\n")
  (pkg / "c.py").write_text("import jaxir.sub.a\n")
  (pkg / "d.py").write_text("from jaxir.sub.a import x\n")
  assert cycles(graph(modules(tmp_path))) == [["jaxir.sub.a", "jaxir.sub.b", "jaxir.sub.c"]]


def test_no_import_circle_in_jaxir():
  found = [c for c in cycles(graph(modules())) if frozenset(c) not in KNOWN]
  assert not found, "import circle(s) in jaxir/: " + "; ".join(" <-> ".join(c) for c in found)
