"""Tatoeba bitext (LASER / XTREME test sets): 1000 line-aligned sentence pairs per language and English.

Files are `tatoeba.xxx-eng.xxx` and `tatoeba.xxx-eng.eng` with ISO 639-3 codes (`ara`, `cmn`, ...).
jaxir names languages by the ISO 639-1 codes used elsewhere (`ar`, `zh`, ...); `ISO3` maps them.
A code with no two-letter name (`yue`, `kab`, ...) is accepted as it is. The English side differs
from one language to the next (each pair was sampled on its own).
"""
from pathlib import Path

from jaxir.errors import JaxirError

# ISO 639-1 -> the ISO 639-3 code of the Tatoeba file (Chinese is Mandarin `cmn`, Persian `pes`,
# Swahili `swh`, Latvian `lvs`, Malay `zsm`).
ISO3 = {
    "af": "afr", "am": "amh", "ar": "ara", "az": "aze", "be": "bel", "bg": "bul", "bn": "ben",
    "br": "bre", "bs": "bos", "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu",
    "el": "ell", "eo": "epo", "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "fi": "fin",
    "fo": "fao", "fr": "fra", "fy": "fry", "ga": "gle", "gd": "gla", "gl": "glg", "he": "heb",
    "hi": "hin", "hr": "hrv", "hu": "hun", "hy": "hye", "ia": "ina", "id": "ind", "ie": "ile",
    "io": "ido", "is": "isl", "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz",
    "km": "khm", "ko": "kor", "ku": "kur", "la": "lat", "lt": "lit", "lv": "lvs", "mk": "mkd",
    "ml": "mal", "mn": "mon", "mr": "mar", "ms": "zsm", "nb": "nob", "nl": "nld", "nn": "nno",
    "oc": "oci", "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv",
    "sq": "sqi", "sr": "srp", "sv": "swe", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha",
    "tk": "tuk", "tl": "tgl", "tr": "tur", "tt": "tat", "ug": "uig", "uk": "ukr", "ur": "urd",
    "uz": "uzb", "vi": "vie", "xh": "xho", "yi": "yid", "zh": "cmn",
}
# The XQuAD-R and MLQA-R languages other than English.
DEFAULT_LANGS = ("ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh")


def tatoeba_dir(data_dir=None):
  """`<root>/tatoeba`, or the root itself when it holds the tatoeba files."""
  from jaxir.data.sources import data_root
  root = data_root(data_dir)
  for cand in (root / "tatoeba", root):
    if cand.is_dir() and any(cand.glob("tatoeba.*-eng.eng")):
      return cand
  raise JaxirError(f"no Tatoeba files under {root} (expected {root / 'tatoeba'}/tatoeba.xxx-eng.{{xxx,eng}})")


def available(folder):
  """ISO 639-3 codes that have both files in `folder`."""
  folder = Path(folder)
  return sorted(p.name.split(".")[1][:-4] for p in folder.glob("tatoeba.*-eng.eng")
                if (folder / f"{p.name[:-4]}.{p.name.split('.')[1][:-4]}").is_file())


def _read_lines(path):
  with open(path, encoding="utf-8") as f:
    return [line.rstrip("\n").rstrip("\r") for line in f]


def load_tatoeba(data_dir=None, langs=None):
  """{lang: (sentences, english)} line-aligned lists; `langs` are ISO 639-1 (or 639-3) codes."""
  folder = tatoeba_dir(data_dir)
  langs = list(langs or DEFAULT_LANGS)
  have = set(available(folder))
  missing = [l for l in langs if ISO3.get(l, l) not in have]
  if missing:
    raise JaxirError(f"Tatoeba language(s) {', '.join(missing)} not in {folder} "
                     f"(it has {len(have)}: e.g. {' '.join(sorted(have)[:12])} ...; two-letter codes map through jaxir.data.tatoeba.ISO3)")
  out = {}
  for lang in langs:
    code = ISO3.get(lang, lang)
    src = _read_lines(folder / f"tatoeba.{code}-eng.{code}")
    eng = _read_lines(folder / f"tatoeba.{code}-eng.eng")
    if len(src) != len(eng) or not src:
      raise JaxirError(f"{folder}/tatoeba.{code}-eng.*: {len(src)} and {len(eng)} lines; expected the same non-zero number")
    out[lang] = (src, eng)
  return out


def halves(n):
  """Two disjoint halves of the line indices 0..n-1, seeded ((first, second), each sorted): one half of a
  language's pairs to train on (`data.extra_pairs`, tools/tatoeba_pairs.py), the other to evaluate on
  (`eval.tatoeba.half=2`). Fixed: the same halves on every machine."""
  import numpy as np
  order = np.random.default_rng([0x7A70EBA, n]).permutation(n)
  return sorted(int(i) for i in order[: n // 2]), sorted(int(i) for i in order[n // 2:])
