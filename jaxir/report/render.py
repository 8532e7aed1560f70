"""One report, two renderings: Markdown (figures as relative links) and self-contained HTML
(figures inlined as base64 PNG, inline CSS, no scripts, nothing fetched)."""
import base64
import dataclasses
import html
from pathlib import Path


@dataclasses.dataclass
class Heading:
  level: int
  text: str


@dataclasses.dataclass
class Para:
  text: str


@dataclasses.dataclass
class Table:
  header: list
  rows: list
  caption: str = ""


@dataclasses.dataclass
class Figure:
  path: Path              # a PNG inside the report directory
  caption: str


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f3f3f3; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3em; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-style: italic; color: #555; }
"""


def _md_cell(x):
  return str(x).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks, root):
  out = []
  for b in blocks:
    if isinstance(b, Heading):
      out.append("#" * b.level + " " + b.text)
    elif isinstance(b, Para):
      out.append(b.text)
    elif isinstance(b, Table):
      lines = [f"*{b.caption}*", ""] if b.caption else []
      lines.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
      lines.append("|" + "|".join("---" for _ in b.header) + "|")
      lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
      out.append("\n".join(lines))
    elif isinstance(b, Figure):
      rel = Path(b.path).relative_to(root).as_posix()
      out.append(f"![{b.caption}]({rel})\n\n*{b.caption}*")
  return "\n\n".join(out) + "\n"


def _png_data_uri(path):
  return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def to_html(blocks, title):
  e = html.escape
  out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{e(title)}</title>",
         f"<style>{CSS}</style>", "</head>", "<body>"]
  for b in blocks:
    if isinstance(b, Heading):
      out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
    elif isinstance(b, Para):
      out.append(f"<p>{e(b.text)}</p>")
    elif isinstance(b, Table):
      rows = [f"<caption>{e(b.caption)}</caption>"] if b.caption else []
      rows.append("<thead><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in b.header) + "</tr></thead>")
      rows.append("<tbody>" + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>"
                                      for r in b.rows) + "</tbody>")
      out.append("<table>" + "".join(rows) + "</table>")
    elif isinstance(b, Figure):
      out.append(f'<figure><img src="{_png_data_uri(b.path)}" alt="{e(b.caption)}">'
                 f"<figcaption>{e(b.caption)}</figcaption></figure>")
  out += ["</body>", "</html>"]
  return "\n".join(out) + "\n"
