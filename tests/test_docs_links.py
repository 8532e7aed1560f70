"""The front door stays small and its pages stay connected: README.md is at most 10 KB, and every relative link in
README.md, BUILD.md and docs/ (files, folders and `#anchors` of Markdown headings) resolves.

Pure text checks, no jaxir import: milliseconds. Links inside code (fenced blocks, `inline code`) are not links.
"""
import re
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_BYTES = 10 * 1024
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s>]+(?:\([^()\s]*\))?[^()\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
FENCE = re.compile(r"^\s*(```|~~~)")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")  # https:, mailto:, ...; protocol-relative


def doc_files():
  """README.md, BUILD.md and every Markdown file under docs/ (the generated sweep reports included)."""
  return [ROOT / "README.md", ROOT / "BUILD.md"] + sorted((ROOT / "docs").rglob("*.md"))


def unfenced(text):
  """The lines of `text` with those of fenced code blocks blanked (line numbers kept)."""
  out, fenced = [], False
  for line in text.split("\n"):
    if FENCE.match(line):
      fenced = not fenced
      out.append("")
    else:
      out.append("" if fenced else line)
  return out


def prose(text):
  """The text outside fenced code blocks and inline code spans, line numbers kept."""
  return "\n".join(re.sub(r"(`+)(?:(?!\1).)+?\1", "", line) for line in unfenced(text))


def slug(heading):
  """GitHub's anchor for a heading: lower case, markup and punctuation dropped (letters of any script, digits,
  `-` and `_` kept), each space a hyphen."""
  text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)     # a link in a heading: its text
  text = re.sub(r"<[^>]+>", "", text).strip().lower()
  keep = []
  for ch in text:
    cat = unicodedata.category(ch)
    if ch in "-_" or cat[0] in "LN" or cat == "Mn":
      keep.append(ch)
    elif ch == " ":
      keep.append("-")
  return "".join(keep)


def anchors(path):
  """The anchors GitHub makes for a Markdown file's headings (a repeated heading gets -1, -2, ...)."""
  seen, out = {}, set()
  for line in unfenced(path.read_text(encoding="utf-8")):
    m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
    if not m:
      continue
    base = slug(m.group(1))
    n = seen.get(base, 0)
    seen[base] = n + 1
    out.add(base if n == 0 else f"{base}-{n}")
  return out


def links(path):
  """(line number, target) of every link and image in a Markdown file's prose."""
  text = prose(path.read_text(encoding="utf-8"))
  found = []
  for rx in (LINK, REF_DEF):
    for m in rx.finditer(text):
      found.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
  return found


def broken(path):
  """Each relative link of `path` that does not resolve, as 'file:line: target (why)'."""
  out = []
  for line, target in links(path):
    if EXTERNAL.match(target):
      continue
    where, _, frag = target.partition("#")
    dest = (path.parent / unquote(where)).resolve() if where else path
    why = None
    if where.startswith("/"):
      why = "absolute path; use a relative one"
    elif not dest.exists():
      why = "no such file or folder"
    elif ROOT not in dest.parents and dest != ROOT:
      why = "outside the repository"
    elif frag and dest.suffix == ".md" and unquote(frag).lower() not in anchors(dest):
      why = f"no heading with anchor #{frag} in {dest.relative_to(ROOT)}"
    if why:
      out.append(f"{path.relative_to(ROOT)}:{line}: {target} ({why})")
  return out


def test_readme_is_at_most_10_kb():
  size = (ROOT / "README.md").stat().st_size
  assert size <= README_MAX_BYTES, f"README.md is {size} bytes, over {README_MAX_BYTES}: move detail to docs/"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
  assert not broken(path), "\n".join(broken(path))


def test_the_checker_finds_broken_links(tmp_path, monkeypatch):
  """The checks above can fail: a missing file, a missing anchor and an absolute path are each reported, while
  links in code, external links and good anchors (non-ASCII, repeated headings) are not."""
  monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
  (tmp_path / "docs").mkdir()
  (tmp_path / "docs" / "b.md").write_text("# B\n## Results (α = 0.5, real runs)\n## Again\n## Again\n")
  page = tmp_path / "a.md"
  page.write_text("\n".join([
      "[ok](docs/b.md#results-α--05-real-runs) [ok2](docs/b.md#again-1) [web](https://x.org/none.md)",
      "[gone](docs/missing.md) [no anchor](docs/b.md#nowhere) [abs](/etc/passwd)",
      "`[code](docs/missing.md)`", "```", "[fenced](docs/missing.md)", "```", "[self](#a-code-heading) ![img](docs)",
      "# A `code` heading"]))
  found = broken(page)
  assert [f.split(": ", 1)[1].split(" (")[0] for f in found] == ["docs/missing.md", "docs/b.md#nowhere",
                                                                  "/etc/passwd"], found
  assert found[0].startswith("a.md:2:")
