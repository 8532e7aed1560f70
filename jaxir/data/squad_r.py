"""The -R format (LAReQA): SQuAD v1.1 JSON whose paragraphs carry `sentences` and `sentence_breaks`.

One `RCorpus` per language: its questions and its candidate pool (every sentence of every
paragraph, in file order; a text may repeat). A question's relevant candidate is the sentence
whose span contains `answers[0].answer_start`. Questions in different languages are parallel
when they share an `id`.
"""
import dataclasses
import json
from pathlib import Path

from jaxir.errors import JaxirError

XQUAD_R_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_R_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")
BENCHMARK_LANGS = {"xquad-r": XQUAD_R_LANGS, "mlqa-r": MLQA_R_LANGS}


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
  """Parses an -R JSON object (already loaded) into an RCorpus; bad structure raises JaxirError."""
  if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
    raise JaxirError(f"{source}: not SQuAD JSON (no top-level 'data' list)")
  corpus = RCorpus(lang, [], [], [], [], [])
  articles = obj["data"] if max_articles is None else obj["data"][:max_articles]
  for a, article in enumerate(articles):
    title = str(article.get("title", a))
    for paragraph in article.get("paragraphs", []):
      where = f"{source}: article {a} ({title!r})"
      for key in ("context", "qas", "sentences", "sentence_breaks"):
        if key not in paragraph:
          raise JaxirError(f"{where}: paragraph has no '{key}' (not -R format; convert it with `jaxir data make-r`)")
      context, sentences, breaks = paragraph["context"], paragraph["sentences"], paragraph["sentence_breaks"]
      if len(sentences) != len(breaks):
        raise JaxirError(f"{where}: {len(sentences)} sentences but {len(breaks)} sentence_breaks")
      for start, end in breaks:
        if not 0 <= start < end <= len(context):
          raise JaxirError(f"{where}: sentence break [{start}, {end}] outside its context of {len(context)} characters")
      c = len(corpus.contexts)
      offset = len(corpus.candidates)
      corpus.contexts.append(context)
      corpus.candidates.extend(sentences)
      corpus.candidate_article.extend([a] * len(sentences))
      corpus.candidate_context.extend([c] * len(sentences))
      for qa in paragraph["qas"]:
        answers = qa.get("answers") or []
        if not answers or "answer_start" not in answers[0]:
          raise JaxirError(f"{where}: question {qa.get('id')!r} has no answers[0].answer_start")
        start = answers[0]["answer_start"]
        if not isinstance(start, int) or not 0 <= start < len(context):
          raise JaxirError(f"{where}: question {qa.get('id')!r} answer offset {start} outside its context of {len(context)} characters")
        s = answer_sentence(breaks, start, f"{where}, question {qa.get('id')!r}")
        corpus.questions.append(Question(str(qa["id"]), lang, qa["question"], a, title, offset + s))
  return corpus


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
    raise JaxirError(f"unknown benchmark {benchmark!r}; choose from {', '.join(BENCHMARK_LANGS)}")
  return BENCHMARK_LANGS[benchmark]


def check_langs(benchmark, langs):
  known = benchmark_langs(benchmark)
  if langs is None:
    return known
  unknown = [l for l in langs if l not in known]
  if unknown:
    raise JaxirError(f"unknown language(s) {', '.join(unknown)} for {benchmark}; it has {' '.join(known)}")
  return tuple(langs)


def load_benchmark(benchmark, data_dir, langs=None, max_articles=None):
  """{lang: RCorpus} for a benchmark read from `data_dir/<benchmark>/<lang>.json`.

  `max_articles` keeps the first K articles of every language (questions and candidates
  alike), so a small run is still a pool. XQuAD-R articles are parallel by position.
  """
  from jaxir.data.sources import benchmark_dir
  langs = check_langs(benchmark, langs)
  root = benchmark_dir(benchmark, data_dir)
  return {l: read_r_file(root / f"{l}.json", l, max_articles) for l in langs}
