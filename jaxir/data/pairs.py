"""Training pairs from a parallel -R source: a seeded train/dev split by article, x_x and x_y pairs.

Split. MLQA titles are per-language strings and parallel articles carry different titles, but a
question id is shared by its translations. So articles are grouped by the connected components of
"article (lang, title) asks question id": the English article of an id, every translation of that
id and every article (all its paragraphs) that asks one of them form one group. On MLQA-R a group
is one English article with its translations (520 groups). Groups are sorted by a canonical key
(their smallest English title), permuted with `split_seed`, and the first
round(dev_fraction * groups) go to dev. No id, article or paragraph text is on both sides
(`check_split`, called on every load).

Pairs. A monolingual (x_x) pair is a question in L with its answer in L; a cross-lingual (x_y)
pair is the question of an id in L1 with the answer of the same id in L2 != L1. The positive is
the answer sentence (`sentence`, what the evaluation ranks), `sentence+paragraph` (the sentence, a
newline, its paragraph) or the `paragraph`. Hard negatives (`hard_negatives` per pair, a seeded
choice per pair) are other positives of the positive's language and format: other sentences of
its paragraph (`paragraph` mode: other paragraphs of its article), topped up from its article,
then from the whole language side when the paragraph is short. With `hard_negative_lang="query"` an x_y pair's
hard negatives are drawn the same way from the query's side instead: other sentences of the paragraph that
answers the question in its own language (the parallel of the positive's paragraph), so each is a wrong answer in
the query's language, the same-language distractor that language bias ranks above the right answer in another
language (LAReQA, arXiv 2004.05484). With `hard_negative_lang="both"` (`hard_negatives` >= 2) an x_y pair's
first ceil(k/2) negatives come from the positive's paragraph and the other floor(k/2) from the query's. An x_x
pair's two sides are one language, so it is the same in every mode.

Each pair carries `cluster`: the connected component of "id shares an answer unit (sentence, or
paragraph in `paragraph` mode) with id" over all languages. Two pairs of one cluster have the
same or translated answers: a batch must not hold both (`hybrid` enforces it).

Extra monolingual sources (`DataConfig.extra_mono`, -R files such as `jaxir data make-r` output
of `mono-qa/`) only feed the x_x pools of the training side: concatenated with the main source's
pairs of their language (`extra_mix="size"`), or kept as separate streams drawn per example in
proportion to `weight` (`extra_mix="weights"`; the main source weighs 1.0).

Extra pair files (`DataConfig.extra_pairs`: JSONL / Parquet / CSV / TSV in `data.source=pairs`'s format, read by
`jaxir.data.own_pairs.extra`) also feed the training side only, taken whole (`data.langs` selects the main
source's languages): their x_x rows join the x_x pools of their language as an extra source (weight 1.0 with
`extra_mix="weights"`), their x_y rows join the x_y pool. A row with a text of the dev split (a question or a
candidate sentence) is dropped, so nothing of the dev split is trained on. Translation pairs (e.g. half of a
Tatoeba language, `tools/tatoeba_pairs.py`) give a language the MLQA-R train split lacks x_y training.
"""
import collections
import dataclasses
from pathlib import Path

import numpy as np

from jaxir.config import check_extra_mono, check_hard_negative_lang
from jaxir.data import squad_r
from jaxir.data.pools import SIDES, Pair, PairData, _seed, _UnionFind, build_pools, split_keys
from jaxir.errors import JaxirError

# ---------------------------------------------------------------------------------------------
# Split by article group


def article_groups(corpora):
  """{(lang, article index): group key}: articles linked by a shared question id or title share a key.

  The key is the group's smallest English title ("en:<title>"), else its smallest "<lang>:<title>"
  (an article without questions is named "#<index>").
  """
  uf = _UnionFind()
  names = {}
  for lang, c in corpora.items():
    for a in sorted(set(c.candidate_article)):
      uf.find(("a", lang, a))
      names[(lang, a)] = f"#{a}"
    for q in c.questions:
      names[(lang, q.article)] = q.title
      uf.union(("a", lang, q.article), ("q", q.id))
      uf.union(("a", lang, q.article), ("t", lang, q.title))  # one title, one side
  members = collections.defaultdict(list)
  for lang, a in names:
    members[uf.find(("a", lang, a))].append((lang, a))
  keys = {}
  for arts in members.values():
    en = sorted(names[x] for x in arts if x[0] == "en")
    key = f"en:{en[0]}" if en else min(f"{l}:{names[(l, a)]}" for l, a in arts)
    keys.update({x: key for x in arts})
  return keys


def split_sides(corpora, dev_fraction, seed):
  """{group key: "train" | "dev"}, seeded; round(dev_fraction * groups) groups go to dev (at least 1)."""
  return split_keys(sorted(set(article_groups(corpora).values())), dev_fraction, seed)


def _subset(corpus, keep_article):
  """The RCorpus restricted to the articles (indices) for which `keep_article` is true."""
  out = squad_r.RCorpus(corpus.lang, [], [], [], [], [])
  new_index, context_map = {}, {}
  for i, (text, a, c) in enumerate(zip(corpus.candidates, corpus.candidate_article, corpus.candidate_context)):
    if not keep_article(a):
      continue
    if c not in context_map:
      context_map[c] = len(out.contexts)
      out.contexts.append(corpus.contexts[c])
    new_index[i] = len(out.candidates)
    out.candidates.append(text)
    out.candidate_article.append(a)
    out.candidate_context.append(context_map[c])
  out.questions = [dataclasses.replace(q, answer=new_index[q.answer]) for q in corpus.questions if keep_article(q.article)]
  return out


def split_benchmark(corpora, dev_fraction, seed):
  """({"train": {lang: RCorpus}, "dev": {...}}, {"train": groups, "dev": groups}); checked for leakage."""
  groups = article_groups(corpora)
  sides = split_sides(corpora, dev_fraction, seed)
  out = {s: {} for s in SIDES}
  for lang, c in corpora.items():
    side_of = {a: sides[groups[(lang, a)]] for a in set(c.candidate_article)}
    for s in SIDES:
      out[s][lang] = _subset(c, lambda a, s=s: side_of[a] == s)
  check_split(out["train"], out["dev"])
  counts = collections.Counter(sides.values())
  return out, {s: counts[s] for s in SIDES}


def check_split(train, dev):
  """Raises JaxirError when an id, a paragraph text or an article is on both sides."""
  def ids(side):
    return {q.id for c in side.values() for q in c.questions}

  def contexts(side):
    return {t for c in side.values() for t in c.contexts}

  def titles(side):
    return {(l, q.title) for l, c in side.items() for q in c.questions}

  for what, get in (("question ids", ids), ("paragraphs", contexts), ("articles", titles)):
    both = get(train) & get(dev)
    if both:
      raise JaxirError(f"train/dev leakage: {len(both)} {what} on both sides, e.g. {sorted(both)[0]!r}")


def shared_sentences(train, dev):
  """Candidate sentence texts found on both sides (short fragments such as 'Hughes.' may repeat)."""
  def sents(side):
    return {s for c in side.values() for s in c.candidates}
  return sents(train) & sents(dev)


# ---------------------------------------------------------------------------------------------
# Pairs


class _Positives:
  """Positive texts of one language side and their hard negatives."""

  def __init__(self, corpus, positive):
    if positive not in ("sentence", "sentence+paragraph", "paragraph"):
      raise JaxirError(f"unknown data.positive {positive!r}; choose from sentence, sentence+paragraph, paragraph")
    self.corpus, self.positive = corpus, positive
    self.by_context = collections.defaultdict(list)
    self.by_article = collections.defaultdict(list)
    self.context_article = {}
    for i, (a, c) in enumerate(zip(corpus.candidate_article, corpus.candidate_context)):
      self.by_context[c].append(i)
      self.by_article[a].append(i)
      self.context_article[c] = a
    self.article_contexts = collections.defaultdict(list)
    for c, a in self.context_article.items():
      self.article_contexts[a].append(c)

  def unit(self, cand):
    """The answer unit of a candidate sentence: the sentence, or its paragraph in `paragraph` mode."""
    return self.corpus.candidate_context[cand] if self.positive == "paragraph" else cand

  def text(self, unit):
    c = self.corpus
    if self.positive == "paragraph":
      return c.contexts[unit]
    if self.positive == "sentence+paragraph":
      return f"{c.candidates[unit]}\n{c.contexts[c.candidate_context[unit]]}"
    return c.candidates[unit]

  def negatives(self, cand, k, rng):
    """k distinct texts != the positive: its paragraph, then its article, then the whole side."""
    if k <= 0:
      return ()
    c = self.corpus
    unit = self.unit(cand)
    if self.positive == "paragraph":
      article = self.context_article[unit]
      tiers = [self.article_contexts[article]]
      n_all = len(c.contexts)
    else:
      tiers = [self.by_context[c.candidate_context[cand]], self.by_article[c.candidate_article[cand]]]
      n_all = len(c.candidates)
    own = self.text(unit)
    out, seen = [], {own}

    def take(u):
      t = self.text(u)
      if t not in seen:
        seen.add(t)
        out.append(t)

    for tier in tiers:
      for j in rng.permutation(len(tier)):
        if len(out) == k:
          return tuple(out)
        take(tier[j])
    for j in rng.permutation(n_all):
      if len(out) == k:
        break
      take(int(j))
    if len(out) < k:
      raise JaxirError(f"{c.lang}: cannot find {k} distinct hard negatives (only {len(out)} other texts on this side)")
    return tuple(out)


def _clusters(corpora, positives, prefix):
  """{id: cluster key}: ids joined when they share an answer unit in some language."""
  uf = _UnionFind()
  for lang, c in corpora.items():
    for q in c.questions:
      uf.union(("q", q.id), ("u", lang, positives[lang].unit(q.answer)))
  return {q.id: f"{prefix}:{uf.find(('q', q.id))[1]}" for c in corpora.values() for q in c.questions}


def corpus_pairs(corpora, positive="sentence", hard_negatives=0, seed=0, source="mlqa-r", cross=True, id_prefix="",
                 hard_negative_lang="positive"):
  """({lang: [x_x Pair]}, [x_y Pair]) of one side of a source, in file order (x_y: by id, then language pair)."""
  check_hard_negative_lang(hard_negative_lang, hard_negatives)
  positives = {l: _Positives(c, positive) for l, c in corpora.items()}
  cluster = _clusters(corpora, positives, source)
  # how many of an x_y pair's negatives come from the query's paragraph (the rest: the positive's; x_x: none)
  x_y_from_query = {"positive": 0, "query": hard_negatives, "both": hard_negatives // 2}[hard_negative_lang]

  def pair(q, a):  # question q, answer a (the same id)
    pos = positives[a.lang]
    rng = np.random.default_rng(_seed(seed, source, q.id, q.lang, a.lang))
    from_query = 0 if q.lang == a.lang else x_y_from_query
    negs = pos.negatives(a.answer, hard_negatives - from_query, rng)
    negs += positives[q.lang].negatives(q.answer, from_query, rng)
    return Pair(q.text, pos.text(pos.unit(a.answer)), q.lang, a.lang, id_prefix + q.id, a.title, negs,
                cluster[q.id], source)

  mono = {l: [pair(q, q) for q in c.questions] for l, c in corpora.items()}
  cross_pairs = []
  if cross:
    by_id = collections.defaultdict(dict)
    for l in sorted(corpora):
      for q in corpora[l].questions:
        by_id[q.id][l] = q
    for qid in sorted(by_id):
      for l1, q in by_id[qid].items():
        for l2, a in by_id[qid].items():
          if l1 != l2:
            cross_pairs.append(pair(q, a))
  return mono, cross_pairs


def _extra_path(path, data_dir):
  p = Path(path).expanduser()
  if p.is_file() or p.is_absolute():
    return p
  from jaxir.data.sources import data_root
  try:
    q = data_root(data_dir) / p
  except JaxirError:
    return p
  return q if q.is_file() else p


def _extras(cfg):
  """[(name, lang, weight, RCorpus)] of DataConfig.extra_mono."""
  out, names = [], {cfg.source}
  for spec in check_extra_mono(cfg.extra_mono):
    weight = spec.get("weight", 1.0)
    path = _extra_path(spec["path"], cfg.data_dir)
    name = _unique_name(Path(spec["path"]).stem, names)
    out.append((name, str(spec["lang"]), float(weight), squad_r.read_r_file(path, str(spec["lang"]))))
  return out


def load_corpora(cfg):
  """{lang: RCorpus} of an -R source: MLQA-R from the data root, or any folder of <lang>.json (squad-r)."""
  if cfg.source == "squad-r":
    if not cfg.path:
      raise JaxirError("data.source=squad-r needs data.path=DIR (a folder of <lang>.json -R files)")
    return squad_r.load_r_dir(cfg.path, cfg.langs)
  return squad_r.load_benchmark(cfg.source, cfg.data_dir, cfg.langs)


def load_pairs(cfg):
  """PairData for a DataConfig: the split source's train/dev pools, extras in the train x_x pools.

  `data.source=pairs` reads your own pair files (`jaxir.data.own_pairs`)."""
  if cfg.source == "pairs":
    from jaxir.data import own_pairs
    if not cfg.path:
      raise JaxirError("data.source=pairs needs data.path=PATH (a JSONL, Parquet, CSV or TSV file or folder)")
    return own_pairs.load(cfg)
  if cfg.hard_negatives < 0:
    raise JaxirError(f"data.hard_negatives must be >= 0, got {cfg.hard_negatives}")
  corpora = load_corpora(cfg)
  sides, groups = split_benchmark(corpora, cfg.dev_fraction, cfg.split_seed)
  pools = {}
  for side in SIDES:
    mono, cross = corpus_pairs(sides[side], cfg.positive, cfg.hard_negatives, cfg.split_seed, cfg.source,
                               hard_negative_lang=cfg.hard_negative_lang)
    pools[side] = (mono, cross)
  extras, info = [], {}
  for src, lang, weight, corpus in _extras(cfg):
    kept = _outside_dev(corpus, sides["dev"].get(lang))
    mono, _ = corpus_pairs({lang: kept}, cfg.positive, cfg.hard_negatives, cfg.split_seed, src,
                           cross=False, id_prefix=f"{src}:")
    extras.append((src, lang, weight, mono[lang]))
    info[src] = {"lang": lang, "weight": weight, "pairs": len(mono[lang]),
                 "dropped": len(corpus.questions) - len(kept.questions)}
  train_mono, train_cross = pools["train"]
  if cfg.extra_pairs:
    from jaxir.data import own_pairs
    held_out = _texts(sides["dev"])
    names = {cfg.source, *info}
    for path in cfg.extra_pairs:
      name = _unique_name(Path(path).stem, names)
      mono, cross, info[name] = own_pairs.extra(_extra_path(path, cfg.data_dir), name, cfg, held_out)
      extras += [(name, lang, 1.0, ps) for lang, ps in sorted(mono.items())]
      train_cross = list(train_cross) + cross
  train = build_pools(train_mono, train_cross, extras, cfg.extra_mix, "train")
  dev = build_pools(*pools["dev"], (), cfg.extra_mix, "dev")
  return PairData(train, dev, sides, groups, info, cfg.extra_mix)


def _unique_name(name, taken):
  while name in taken:
    name += "+"
  taken.add(name)
  return name


def _texts(corpora):
  """Every question and candidate sentence of {lang: RCorpus}."""
  return frozenset(t for c in corpora.values() for t in [q.text for q in c.questions] + list(c.candidates))


def evaluate_dev(pretrained, data, train_langs=None, tokens_per_batch=8192):
  """(summary, per_query) on the dev side: its -R corpora (LAReQA), or for pairs files its dev pairs."""
  if data.corpora["dev"]:
    from jaxir.eval.evaluate import evaluate_model
    return evaluate_model(pretrained, data.corpora["dev"], train_langs, tokens_per_batch)
  from jaxir.data import own_pairs
  return own_pairs.evaluate_dev(pretrained, data.dev, train_langs, tokens_per_batch)


def _outside_dev(corpus, dev):
  """An extra source without the articles that share a title or a paragraph with the dev side."""
  if dev is None:
    return corpus
  titles, contexts = {q.title for q in dev.questions}, set(dev.contexts)
  drop = {q.article for q in corpus.questions if q.title in titles}
  drop |= {a for a, c in zip(corpus.candidate_article, corpus.candidate_context) if corpus.contexts[c] in contexts}
  return _subset(corpus, lambda a: a not in drop) if drop else corpus


# ---------------------------------------------------------------------------------------------
# Statistics


def pair_stats(data):
  """JSON-ready counts: x_x pairs per language and x_y pairs per language pair, train and dev."""
  out = {"groups": data.groups, "extras": data.extras, "extra_mix": data.extra_mix}
  if data.source_info:
    out["source"] = data.source_info
  for side in SIDES:
    pools, corpora = getattr(data, side), data.corpora[side]
    cross = collections.Counter(f"{p.query_lang}-{p.positive_lang}" for p in pools.cross_pairs())
    out[side] = {
        "questions": {l: len(c.questions) for l, c in corpora.items()},
        "mono": {l: len(pools.mono_pairs(l)) for l in pools.langs},
        "cross": dict(sorted(cross.items())),
        "mono_total": sum(len(pools.mono_pairs(l)) for l in pools.langs),
        "cross_total": sum(cross.values()),
    }
  out["shared_sentences"] = len(shared_sentences(data.corpora["train"], data.corpora["dev"]))
  return out


def format_pair_stats(s):
  langs = sorted(set(s["train"]["mono"]) | set(s["dev"]["mono"]))
  src = s.get("source")
  if src:
    lines = [f"{src['path']}: {src['rows']} pairs from {src['files']} file(s)"
             + (f", {src['duplicates']} repeated rows dropped" if src["duplicates"] else "")
             + (f", {src['bad_rows']} bad rows skipped" if src["bad_rows"] else ""),
             f"groups: {s['groups']['train']} train, {s['groups']['dev']} dev (no group or text on both sides)"]
  else:
    lines = [f"article groups: {s['groups']['train']} train, {s['groups']['dev']} dev "
             f"(no id or paragraph on both sides; {s['shared_sentences']} short sentence texts recur on both)"]
  lines += ["", "x_x (monolingual) pairs", "lang     train    dev"]
  lines += [f"{l:<6} {s['train']['mono'].get(l, 0):>7} {s['dev']['mono'].get(l, 0):>6}" for l in langs]
  lines.append(f"{'total':<6} {s['train']['mono_total']:>7} {s['dev']['mono_total']:>6}")
  for src, e in s["extras"].items():
    weight = f", weight {e['weight']:g}" if s["extra_mix"] == "weights" else ""
    if "cross" in e:                                   # a data.extra_pairs file
      lines.append(f"  extra pairs {src} ({e['lang']}): {e['pairs']} train pairs, {e['cross']} of them x_y"
                   + (f" ({e['dropped']} rows with a dev text dropped)" if e["dropped"] else ""))
      continue
    lines.append(f"  extra {src} ({e['lang']}{weight}): {e['pairs']} train pairs"
                 + (f" ({e['dropped']} questions of dev articles dropped)" if e["dropped"] else ""))
  pairs = sorted(set(s["train"]["cross"]) | set(s["dev"]["cross"]))
  lines += ["", "x_y (cross-lingual) pairs, query-passage", "pair     train    dev"]
  lines += [f"{p:<6} {s['train']['cross'].get(p, 0):>7} {s['dev']['cross'].get(p, 0):>6}" for p in pairs]
  lines.append(f"{'total':<6} {s['train']['cross_total']:>7} {s['dev']['cross_total']:>6}")
  return "\n".join(lines)
