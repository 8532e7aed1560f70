"""The -R format (LAReQA): SQuAD v1.1 JSON whose paragraphs carry `sentences` and `sentence_breaks`.

One `RCorpus` per language: its questions and its candidate pool (every sentence of every
paragraph, in file order; a text may repeat). A question's relevant candidate is the sentence
whose span contains `answers[0].answer_start`. Questions in different languages are parallel
when they share an `id`.

A benchmark is a folder of `<lang>.json` files: `squad-r` is any such folder (its languages are the
file names, its parallel questions those sharing ids); `xquad-r` and `mlqa-r` are named presets
(their folder under the data root and their languages).
"""
import dataclasses
import json
from pathlib import Path

from jaxir import schema
from jaxir.schema import LANG_CODE
from jaxir.errors import JaxirError

XQUAD_R_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_R_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")
BENCHMARK_LANGS = {"xquad-r": XQUAD_R_LANGS, "mlqa-r": MLQA_R_LANGS}   # presets: a fixed folder and languages
CUSTOM = "squad-r"                  # any folder of <lang>.json -R files: languages from the file names
BENCHMARKS = (*BENCHMARK_LANGS, CUSTOM)


@dataclasses.dataclass(frozen=True)
class Question:
  id: str             # parallel id, shared by translations
  lang: str
  text: str
  article: int        # index of the article (data[] entry) in the file
  title: str          # article title (split MLQA-R by this, never by question)
  answer: int         # index of the answer sentence in RCorpus.candidates


@dataclasses.dataclass
class RCorpus:
  lang: str
  questions: list       # list[Question]
  candidates: list      # list[str], every sentence of every paragraph
  candidate_article: list  # list[int], the article index of each candidate
  candidate_context: list  # list[int], the paragraph index (global, in file order) of each candidate
  contexts: list        # list[str], the paragraphs


def answer_sentence(breaks, answer_start, where):
  """Index of the sentence span [start, end) that contains `answer_start`."""
  for i, (start, end) in enumerate(breaks):
    if start <= answer_start < end:
      return i
  raise JaxirError(f"{where}: answer offset {answer_start} lies in no sentence span")


def parse_r(obj, lang, source="<json>", max_articles=None):
  """Parses an -R JSON object (already loaded) into an RCorpus; bad structure or a wrong-typed field
  raises JaxirError naming the file and the field."""
  if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
    raise JaxirError(f"{source}: not SQuAD JSON (no top-level 'data' list)")
  if not obj["data"]:
    raise JaxirError(f"{source}: field 'data' is an empty list (no articles to read)")
  corpus = RCorpus(lang, [], [], [], [], [])
  first_of = {}   # question id -> where it first appeared
  articles = obj["data"] if max_articles is None else obj["data"][:max_articles]
  for a, article in enumerate(articles):
    schema.check(article, dict, f"{source}: data[{a}]")
    title = schema.expect(article, "title", (str, int), f"{source}: data[{a}]", default=a)
    title = str(title)
    where = f"{source}: article {a} ({title!r})"
    for p, paragraph in enumerate(schema.expect(article, "paragraphs", list, f"{source}: data[{a}]")):
      schema.check(paragraph, dict, f"{where}: paragraphs[{p}]")
      for key in ("context", "qas", "sentences", "sentence_breaks"):
        if key not in paragraph:
          raise JaxirError(f"{where}: paragraph has no '{key}' (not -R format; convert it with `jaxir data make-r`)")
      at = f"{where}: paragraphs[{p}]"
      context = schema.expect(paragraph, "context", str, at)
      sentences = schema.items(paragraph["sentences"], str, f"{at}: field 'sentences'")
      breaks = _sentence_breaks(paragraph["sentence_breaks"], len(context), f"{at}: field 'sentence_breaks'")
      if len(sentences) != len(breaks):
        raise JaxirError(f"{where}: {len(sentences)} sentences but {len(breaks)} sentence_breaks")
      c = len(corpus.contexts)
      offset = len(corpus.candidates)
      corpus.contexts.append(context)
      corpus.candidates.extend(sentences)
      corpus.candidate_article.extend([a] * len(sentences))
      corpus.candidate_context.extend([c] * len(sentences))
      for k, qa in enumerate(schema.expect(paragraph, "qas", list, at)):
        qid, text, start = _question(qa, f"{at}: qas[{k}]", where)
        if qid in first_of:
          raise JaxirError(f"{at}: qas[{k}]: field 'id' {qid!r} is a duplicate (question ids must be unique "
                           f"within a language; first at {first_of[qid]})")
        first_of[qid] = f"article {a}, paragraphs[{p}], qas[{k}]"
        if not 0 <= start < len(context):
          raise JaxirError(f"{where}: question {qid!r} answer offset {start} outside its context of {len(context)} characters")
        s = answer_sentence(breaks, start, f"{where}, question {qid!r}")
        corpus.questions.append(Question(qid, lang, text, a, title, offset + s))
  return corpus


def _sentence_breaks(breaks, n, what):
  """`sentence_breaks` checked: a list of [start, end] integer pairs with 0 <= start < end <= n."""
  schema.check(breaks, list, what)
  for i, pair in enumerate(breaks):
    if not (isinstance(pair, list) and len(pair) == 2 and all(schema.is_a(x, int) for x in pair)):
      raise JaxirError(f"{what}[{i}] must be a [start, end] pair of integers, got {schema.describe(pair)}")
    start, end = pair
    if not 0 <= start < end <= n:
      raise JaxirError(f"{what}[{i}]: sentence break [{start}, {end}] outside its context of {n} characters")
  return breaks


def _question(qa, at, where):
  """(id, question text, answers[0].answer_start) of a `qas` entry, each field type-checked."""
  schema.check(qa, dict, at)
  qid = schema.expect(qa, "id", str, at)
  text = schema.expect(qa, "question", str, at)
  answers = schema.expect(qa, "answers", list, at)
  if not answers or not isinstance(answers[0], dict) or "answer_start" not in answers[0]:
    raise JaxirError(f"{where}: question {qid!r} has no answers[0].answer_start")
  return qid, text, schema.expect(answers[0], "answer_start", int, f"{at}: answers[0]")


def load_json(path):
  path = Path(path)
  if not path.is_file():
    raise JaxirError(f"file not found: {path}")
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise JaxirError(f"{path}: malformed JSON ({e})") from None


def read_r_file(path, lang, max_articles=None):
  return parse_r(load_json(path), lang, str(path), max_articles)


def benchmark_langs(benchmark):
  if benchmark not in BENCHMARK_LANGS:
    raise JaxirError(f"unknown benchmark {benchmark!r}; choose from {', '.join(BENCHMARKS)}")
  return BENCHMARK_LANGS[benchmark]


def check_langs(benchmark, langs, present=None):
  """`langs` (None: all) checked against the benchmark's languages (`present`: those of a squad-r folder)."""
  known = tuple(present) if present is not None else benchmark_langs(benchmark)
  if langs is None:
    return known
  unknown = [l for l in langs if l not in known]
  if unknown:
    raise JaxirError(f"unknown language(s) {', '.join(unknown)} for {benchmark}; it has {' '.join(known)}")
  return tuple(langs)


def folder_langs(root):
  """The languages of an -R folder: the names of its `<lang>.json` files, sorted; each must be a language code."""
  files = sorted(Path(root).glob("*.json"))
  if not files:
    raise JaxirError(f"{root}: no -R files in it (expected <lang>.json files, e.g. en.json; "
                     "convert SQuAD files with `jaxir data make-r`)")
  for f in files:
    if not LANG_CODE.fullmatch(f.stem):
      raise JaxirError(f"{f}: file name {f.name!r} is not a language code (an -R folder holds only <lang>.json "
                       "files, e.g. en.json, pt-BR.json)")
  return [f.stem for f in files]


def locate(benchmark, data_dir=None, langs=None):
  """(folder, languages) of a benchmark. xquad-r / mlqa-r are presets: `<data>/<name>/` (or `data_dir`
  itself) and their fixed languages; squad-r is the folder `data_dir` and the languages of its files."""
  if benchmark != CUSTOM:
    from jaxir.data.sources import benchmark_dir
    langs = check_langs(benchmark, langs)
    return benchmark_dir(benchmark, data_dir), langs
  if not data_dir:
    raise JaxirError(f"{CUSTOM} needs its folder of <lang>.json -R files (--data-dir DIR)")
  root = Path(data_dir).expanduser()
  if not root.is_dir():
    raise JaxirError(f"{CUSTOM} folder not found: {root}")
  return root, check_langs(f"{CUSTOM} folder {root}", langs, folder_langs(root))


def read_folder(root, langs, max_articles=None):
  """{lang: RCorpus} of `root/<lang>.json` for each of `langs`."""
  return {l: read_r_file(Path(root) / f"{l}.json", l, max_articles) for l in langs}


def load_benchmark(benchmark, data_dir, langs=None, max_articles=None):
  """{lang: RCorpus} for a benchmark read from its folder (`locate`).

  `max_articles` keeps the first K articles of every language (questions and candidates
  alike), so a small run is still a pool. XQuAD-R articles are parallel by position.
  """
  root, langs = locate(benchmark, data_dir, langs)
  return read_folder(root, langs, max_articles)


def load_r_dir(path, langs=None, max_articles=None):
  """{lang: RCorpus} of a folder of -R files (any languages, named by their files); `langs` picks some."""
  return read_folder(*locate(CUSTOM, path, langs), max_articles)
