"""Converts SQuAD v1.1 JSON without sentence breaks into the -R format (sentencex segmentation).

Every paragraph gets `sentence_breaks`, [start, end) character offsets that tile its context
(the first starts at 0, each starts where the previous ends, the last ends at len(context)),
and `sentences`, the stripped text of each span. Whitespace-only spans are joined to a neighbour.
A sentence boundary inside an answer span (any of a question's answers) is removed, which
merges those sentences, so every answer lies within one sentence. Questions without answers
(SQuAD 2.0-style) are dropped and counted; an alternative answer (not answers[0]) with
answer_start -1, CMRC 2018's "not in the context", is ignored and counted. Any other offset
outside its context is an error. The output reads with `squad_r.read_r_file`.
"""
import copy

import sentencex

from jaxir import storage, schema
from jaxir.data import squad_r
from jaxir.errors import JaxirError

# sentencex covers these through its rules and fallback chains; other codes are refused,
# because sentencex would silently segment them with generic rules.
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de
dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie
ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg
mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro
ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty
ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split())


def check_lang(lang):
  if not isinstance(lang, str) or lang.lower() not in ISO_639_1:
    raise JaxirError(f"unknown or unsupported language code {lang!r}; give an ISO 639-1 code such as ar, zh, ja")
  return lang.lower()


def segment(context, lang):
  """Sentence start offsets (first is 0) of `context`, whitespace-only pieces joined to a neighbour."""
  if not context.strip():
    return []
  cuts, pos = [], 0
  for b in sentencex.get_sentence_boundaries(lang, context):
    start, end = b["start_index"], b["end_index"]
    if start != pos or context[start:end] != b["text"]:
      raise JaxirError(f"sentencex returned inconsistent offsets for language {lang!r} at character {start}")
    if context[start:end].strip():
      cuts.append(start)
    pos = end
  if pos != len(context):
    raise JaxirError(f"sentencex covered {pos} of {len(context)} characters for language {lang!r}")
  cuts[0] = 0  # leading whitespace belongs to the first sentence; other blanks to the previous one
  return cuts


def _answer_spans(qa, context, where, counts):
  """[start, end) spans of a question's located answers; CMRC's -1 on an alternative answer is skipped."""
  spans = []
  answers = qa.get("answers")
  if not isinstance(answers, list):
    raise JaxirError(f"{where}: question {qa.get('id')!r} field 'answers' must be a list, got "
                     f"{schema.describe(answers)} (not SQuAD JSON)")
  for i, answer in enumerate(answers):
    start = answer.get("answer_start") if isinstance(answer, dict) else None
    text = str(answer.get("text", "")) if isinstance(answer, dict) else ""
    if not isinstance(start, int) or isinstance(start, bool):
      raise JaxirError(f"{where}: question {qa.get('id')!r} has an answer without an integer answer_start")
    if i > 0 and start == -1:  # "not found in the context" (CMRC 2018): answers[0] alone picks the sentence
      counts["unlocated_alternatives"] += 1
      continue
    if not 0 <= start < len(context):
      raise JaxirError(f"{where}: question {qa.get('id')!r} answer offset {start} outside its context of "
                       f"{len(context)} characters")
    counts["text_mismatches"] += context[start:start + len(text)] != text
    spans.append((start, min(len(context), start + max(1, len(text)))))
  return spans


def convert(obj, lang, source="<json>"):
  """(-R JSON object, counts) for a loaded SQuAD JSON object; `obj` is left unchanged."""
  lang = check_lang(lang)
  if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
    raise JaxirError(f"{source}: not SQuAD JSON (no top-level 'data' list)")
  out = copy.deepcopy(obj)
  counts = dict(articles=0, paragraphs=0, questions=0, sentences=0, merged=0, dropped_unanswerable=0,
                unlocated_alternatives=0, text_mismatches=0)
  for a, article in enumerate(out["data"]):
    if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
      raise JaxirError(f"{source}: article {a} has no 'paragraphs' list (not SQuAD JSON)")
    where = f"{source}: article {a} ({article.get('title', a)!r})"
    counts["articles"] += 1
    for p, paragraph in enumerate(article["paragraphs"]):
      if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str) \
         or not isinstance(paragraph.get("qas"), list):
        raise JaxirError(f"{where}: paragraph {p} needs a 'context' string and a 'qas' list (not SQuAD JSON)")
      context = paragraph["context"]
      qas, spans = [], []
      for qa in paragraph["qas"]:
        if not isinstance(qa, dict) or "id" not in qa or not isinstance(qa.get("question"), str):
          raise JaxirError(f"{where}: paragraph {p} has a question without 'id' and 'question' (not SQuAD JSON)")
        schema.expect(qa, "id", str, f"{where}: paragraph {p}: question")
        qa_spans = _answer_spans(qa, context, where, counts)
        if not qa_spans:
          counts["dropped_unanswerable"] += 1
          continue
        qas.append(qa)
        spans.extend(qa_spans)
      cuts = segment(context, lang)
      inside = {c for c in cuts for s, e in spans if s < c < e}
      cuts = [c for c in cuts if c not in inside]
      breaks = [[s, e] for s, e in zip(cuts, cuts[1:] + [len(context)])]
      for start, _ in spans:
        if not cuts or start < cuts[0]:  # only an all-blank context has no sentence
          raise JaxirError(f"{where}: answer offset {start} lies in no sentence (blank context)")
      paragraph["qas"] = qas
      paragraph["sentences"] = [context[s:e].strip() for s, e in breaks]
      paragraph["sentence_breaks"] = breaks
      counts["paragraphs"] += 1
      counts["questions"] += len(qas)
      counts["sentences"] += len(breaks)
      counts["merged"] += len(inside)
  squad_r.parse_r(out, lang, source)  # the output must read back as -R
  return out, counts


def make_r(in_path, out_path, lang):
  """Converts the SQuAD file `in_path` into the -R file `out_path` (atomic write); returns the counts."""
  lang = check_lang(lang)
  out, counts = convert(squad_r.load_json(in_path), lang, str(in_path))
  storage.write_json(out_path, out)
  return counts


def format_counts(counts):
  text = ", ".join(f"{counts[k]} {k}" for k in ("articles", "paragraphs", "questions", "sentences"))
  text += f", {counts['merged']} merged (sentence boundaries inside an answer removed)"
  notes = {"dropped_unanswerable": "questions without answers dropped",
           "unlocated_alternatives": "alternative answers with answer_start -1 ignored",
           "text_mismatches": "answers whose text differs from the context at their offset (kept)"}
  for key, what in notes.items():
    if counts.get(key):
      text += f", {counts[key]} {what}"
  return text
