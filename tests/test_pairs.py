"""Training pairs: the article split (no leakage), x_x / x_y pairs, positives, hard negatives, extras, CLI."""
import json
from pathlib import Path

import pytest

from jaxir import cli
from jaxir.config import DataConfig
from jaxir.data import pairs, squad_r
from jaxir.errors import JaxirError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _r_json(articles):
  """-R JSON from [(title, [(sentences, [(id, question, answer sentence index)])])]."""
  data = []
  for title, paragraphs in articles:
    ps = []
    for sentences, qas in paragraphs:
      context, breaks = "", []
      for s in sentences:
        breaks.append([len(context), len(context) + len(s)])
        context += s + " "
      ps.append({"context": context, "sentences": list(sentences), "sentence_breaks": breaks,
                 "qas": [{"id": i, "question": q, "answers": [{"answer_start": breaks[a][0], "text": "x"}]}
                         for i, q, a in qas]})
    data.append({"title": title, "paragraphs": ps})
  return {"data": data}


def _toy(n_articles=10):
  """Parallel corpora en/de/zh: article k has per-language titles, ids k.0 and k.1 (k.1 not in zh)."""
  corpora = {}
  for lang in ("en", "de", "zh"):
    arts = []
    for k in range(n_articles):
      qas = [(f"{k}.0", f"{lang} q{k}.0?", 0)] + ([(f"{k}.1", f"{lang} q{k}.1?", 2)] if lang != "zh" else [])
      sents = [f"{lang} a{k} s{j}." for j in range(4)]
      arts.append((f"{lang}-title-{k}", [(sents, qas), ([f"{lang} a{k} p2 s{j}." for j in range(2)], [])]))
    corpora[lang] = squad_r.parse_r(_r_json(arts), lang)
  return corpora


@pytest.fixture(scope="module")
def mlqa():
  return pairs.load_pairs(DataConfig(data_dir=str(DATA), hard_negatives=2))


# --------------------------------------------------------------------------------------------- split


def test_groups_join_translated_articles():
  groups = pairs.article_groups(_toy(4))
  assert len(set(groups.values())) == 4
  for k in range(4):
    assert {groups[(l, k)] for l in ("en", "de", "zh")} == {f"en:en-title-{k}"}


def test_split_is_seeded_and_leak_free():
  corpora = _toy(10)
  sides, counts = pairs.split_benchmark(corpora, 0.3, seed=1)
  assert counts == {"train": 7, "dev": 3}
  for lang in corpora:  # every language's articles follow their group; paragraphs stay whole
    dev_ids = {q.id for q in sides["dev"][lang].questions}
    assert {i.split(".")[0] for i in dev_ids} == {q.id.split(".")[0] for q in sides["dev"]["en"].questions}
    assert len(sides["train"][lang].contexts) + len(sides["dev"][lang].contexts) == len(corpora[lang].contexts)
    for side in sides.values():  # answers still point at the right sentence after re-indexing
      c = side[lang]
      for q in c.questions:
        assert c.candidates[q.answer] == f"{lang} a{q.id.split('.')[0]} s{0 if q.id.endswith('.0') else 2}."
  again, _ = pairs.split_benchmark(corpora, 0.3, seed=1)
  other, _ = pairs.split_benchmark(corpora, 0.3, seed=2)
  dev = lambda s: sorted(q.id for q in s["dev"]["en"].questions)
  assert dev(again) == dev(sides) and dev(other) != dev(sides)


def test_check_split_catches_leaks():
  corpora = _toy(4)
  sides, _ = pairs.split_benchmark(corpora, 0.5, seed=0)
  leaky = dict(sides["dev"], de=sides["train"]["de"])  # a language whose articles went to the other side
  with pytest.raises(JaxirError, match="leakage: .* question ids on both sides"):
    pairs.check_split(sides["train"], leaky)
  same = squad_r.parse_r(_r_json([("other", [([f"en a0 s{j}." for j in range(4)], [])])]), "en")
  assert same.contexts[0] == corpora["en"].contexts[0]  # the same paragraph under another title, no ids
  with pytest.raises(JaxirError, match="paragraphs on both sides"):
    pairs.check_split({"en": corpora["en"]}, {"en": same})


def test_split_errors():
  with pytest.raises(JaxirError, match="dev_fraction"):
    pairs.split_sides(_toy(2), 1.0, 0)
  with pytest.raises(JaxirError, match="cannot split 1 article group"):
    pairs.split_sides(_toy(1), 0.5, 0)


def test_mlqa_split(mlqa):
  train, dev = mlqa.corpora["train"], mlqa.corpora["dev"]
  assert mlqa.groups == {"train": 416, "dev": 104}  # 520 English articles, 20% held out
  pairs.check_split(train, dev)
  for lang in train:
    assert not set(train[lang].contexts) & set(dev[lang].contexts)
  ids = {s: {q.id for c in side.values() for q in c.questions} for s, side in mlqa.corpora.items()}
  assert not ids["train"] & ids["dev"] and len(ids["train"] | ids["dev"]) == 1148
  en_side = {q.id: s for s, side in mlqa.corpora.items() for q in side["en"].questions}
  for s, side in mlqa.corpora.items():  # every translation sits with its English question
    assert all(en_side[q.id] == s for c in side.values() for q in c.questions)
  en_titles = {s: {q.title for q in side["en"].questions} for s, side in mlqa.corpora.items()}
  assert not en_titles["train"] & en_titles["dev"]
  full = squad_r.load_benchmark("mlqa-r", DATA)
  for lang, c in full.items():  # nothing lost: every paragraph is on exactly one side
    assert sorted(train[lang].contexts + dev[lang].contexts) == sorted(c.contexts)
  assert len(pairs.shared_sentences(train, dev)) <= 5  # only short fragments ("Hughes.") recur


def test_mlqa_pair_counts(mlqa):
  s = pairs.pair_stats(mlqa)
  assert s["train"]["mono_total"] + s["dev"]["mono_total"] == 4199        # question-sentence pairs
  assert s["train"]["cross_total"] + s["dev"]["cross_total"] == 11548     # via shared ids
  assert s["train"]["mono_total"] == 3391 and s["train"]["cross_total"] == 9312
  assert s["train"]["cross"]["de-en"] == s["train"]["cross"]["en-de"] == s["train"]["mono"]["de"]
  text = pairs.format_pair_stats(s)
  assert "416 train, 104 dev" in text and "de-en" in text


# --------------------------------------------------------------------------------------------- pairs


def test_mono_and_cross_pairs():
  corpora = _toy(3)
  mono, cross = pairs.corpus_pairs(corpora)
  assert {l: len(v) for l, v in mono.items()} == {"en": 6, "de": 6, "zh": 3}
  for lang, ps in mono.items():
    for p in ps:
      assert p.mono and p.query_lang == p.positive_lang == lang
      k, j = p.id.split(".")
      assert p.query == f"{lang} q{p.id}?" and p.positive == f"{lang} a{k} s{0 if j == '0' else 2}."
  # ids k.0 in 3 languages (6 ordered pairs), k.1 in 2 (2 ordered pairs)
  assert len(cross) == 3 * (6 + 2)
  for p in cross:
    assert p.query_lang != p.positive_lang and p.query == f"{p.query_lang} q{p.id}?"
    assert p.positive.startswith(f"{p.positive_lang} a") and p.title == f"{p.positive_lang}-title-{p.id.split('.')[0]}"
  assert {(p.query_lang, p.positive_lang) for p in cross} == {(a, b) for a in "en de zh".split() for b in "en de zh".split() if a != b}


def test_positive_modes_and_hard_negatives():
  corpora = _toy(2)
  c = corpora["de"]
  for mode in ("sentence", "sentence+paragraph", "paragraph"):
    mono, _ = pairs.corpus_pairs(corpora, mode, hard_negatives=3, seed=5)
    for p in mono["de"]:
      q = next(q for q in c.questions if q.id == p.id)
      sent, para = c.candidates[q.answer], c.contexts[c.candidate_context[q.answer]]
      assert p.positive == {"sentence": sent, "sentence+paragraph": f"{sent}\n{para}", "paragraph": para}[mode]
      assert len(p.negatives) == 3 == len(set(p.negatives)) and p.positive not in p.negatives
      ctx = c.candidate_context[q.answer]
      if mode == "sentence":  # exactly the paragraph's 3 other sentences
        own = {t for t, k in zip(c.candidates, c.candidate_context) if k == ctx}
        assert set(p.negatives) == own - {sent}
      if mode == "paragraph":  # the article's other paragraph first, then other paragraphs of the side
        other = [t for k, t in enumerate(c.contexts) if k != ctx and any(
            a == q.article and kk == k for a, kk in zip(c.candidate_article, c.candidate_context))]
        assert p.negatives[0] == other[0] and all(n in c.contexts for n in p.negatives)
  a, _ = pairs.corpus_pairs(corpora, hard_negatives=2, seed=5)
  b, _ = pairs.corpus_pairs(corpora, hard_negatives=2, seed=5)
  d, _ = pairs.corpus_pairs(corpora, hard_negatives=2, seed=6)
  assert a == b and a != d


def test_query_language_hard_negatives():
  """hard_negative_lang=query: an x_y pair's negatives are the other sentences of the query's own paragraph."""
  corpora = _toy(2)
  mono_p, cross_p = pairs.corpus_pairs(corpora, hard_negatives=3, seed=5)
  mono_q, cross_q = pairs.corpus_pairs(corpora, hard_negatives=3, seed=5, hard_negative_lang="query")
  assert mono_q == mono_p  # one language on both sides: unchanged
  assert len(cross_q) == len(cross_p) > 0
  for p, ref in zip(cross_q, cross_p):
    assert (p.query, p.positive, p.id, p.cluster) == (ref.query, ref.positive, ref.id, ref.cluster)
    c = corpora[p.query_lang]
    q = next(q for q in c.questions if q.id == p.id)
    ctx = c.candidate_context[q.answer]
    own = {t for t, k in zip(c.candidates, c.candidate_context) if k == ctx}
    assert set(p.negatives) == own - {c.candidates[q.answer]}  # the query language's wrong sentences
    assert all(n.startswith(f"{p.query_lang} ") for n in p.negatives)
    assert all(n.startswith(f"{p.positive_lang} ") for n in ref.negatives)
  with pytest.raises(JaxirError, match="hard_negative_lang"):
    pairs.corpus_pairs(corpora, hard_negatives=1, hard_negative_lang="passage")


def test_both_language_hard_negatives():
  """hard_negative_lang=both: an x_y pair's first ceil(k/2) negatives are the positive's, the rest the query's."""
  corpora = _toy(2)
  mono_p, cross_p = pairs.corpus_pairs(corpora, hard_negatives=3, seed=5)
  for k in (2, 3):
    mono_b, cross_b = pairs.corpus_pairs(corpora, hard_negatives=k, seed=5, hard_negative_lang="both")
    assert mono_b == pairs.corpus_pairs(corpora, hard_negatives=k, seed=5)[0]  # x_x: unchanged
    assert len(cross_b) == len(cross_p) > 0
    for p, ref in zip(cross_b, cross_p):
      assert (p.query, p.positive, p.id, p.cluster) == (ref.query, ref.positive, ref.id, ref.cluster)
      n_pos = k - k // 2
      assert len(p.negatives) == k == len(set(p.negatives))
      assert all(n.startswith(f"{p.positive_lang} ") for n in p.negatives[:n_pos])
      assert all(n.startswith(f"{p.query_lang} ") for n in p.negatives[n_pos:])
      for n, side in zip(p.negatives, [p.positive_lang] * n_pos + [p.query_lang] * (k - n_pos)):
        c = corpora[side]
        q = next(q for q in c.questions if q.id == p.id)
        ctx = c.candidate_context[q.answer]
        assert n in {t for t, j in zip(c.candidates, c.candidate_context) if j == ctx} - {c.candidates[q.answer]}
  with pytest.raises(JaxirError, match="needs data.hard_negatives >= 2"):
    pairs.corpus_pairs(corpora, hard_negatives=1, hard_negative_lang="both")


def test_query_language_hard_negatives_config(tmp_path):
  from jaxir import config
  (tmp_path / "x.jsonl").write_text("")
  assert config.build(None, ["data.hard_negatives=1", "data.hard_negative_lang=query"]).data.hard_negative_lang == "query"
  with pytest.raises(JaxirError, match="data.hard_negative_lang"):
    config.build(None, ["data.hard_negative_lang=passage"])
  for lang in ("query", "both"):
    with pytest.raises(JaxirError, match=f"hard_negative_lang={lang} needs parallel -R data"):
      config.build(None, ["data.source=pairs", f"data.path={tmp_path / 'x.jsonl'}", "data.hard_negatives=2",
                          f"data.hard_negative_lang={lang}"])
  assert config.build(None, ["data.hard_negatives=2", "data.hard_negative_lang=both"]).data.hard_negative_lang == "both"
  with pytest.raises(JaxirError, match="needs data.hard_negatives >= 2"):
    config.build(None, ["data.hard_negatives=1", "data.hard_negative_lang=both"])


def test_clusters_join_shared_answers():
  arts = [("t", [(["s0.", "s1.", "s2."], [("a", "qa?", 0), ("b", "qb?", 0), ("c", "qc?", 1)])])]
  arts_de = [("t-de", [(["d0.", "d1.", "d2."], [("c", "qc de?", 1), ("d", "qd de?", 1)])])]
  corpora = {"en": squad_r.parse_r(_r_json(arts), "en"), "de": squad_r.parse_r(_r_json(arts_de), "de")}
  mono, _ = pairs.corpus_pairs(corpora)
  key = {p.id: p.cluster for ps in mono.values() for p in ps}
  assert key["a"] == key["b"] != key["c"] == key["d"]   # a, b share s0; c, d share d1 (c's translation)
  mono, _ = pairs.corpus_pairs(corpora, "paragraph")
  assert len({p.cluster for ps in mono.values() for p in ps}) == 1


def _write_r(path, lang, titles):
  arts = [(t, [([f"{t} one.", f"{t} two.", f"{t} three."], [(f"{t}-q", f"{t} question?", 1)])]) for t in titles]
  path.write_text(json.dumps(_r_json(arts)), encoding="utf-8")
  return str(path)


def test_extra_mono_sources(tmp_path, mlqa):
  dev_title = mlqa.corpora["dev"]["de"].questions[0].title
  extra = _write_r(tmp_path / "x.de.json", "de", ["A", "B", dev_title])
  ja = _write_r(tmp_path / "y.ja.json", "ja", ["C", "D"])
  cfg = DataConfig(data_dir=str(DATA), langs=["en", "de"],
                   extra_mono=[{"path": extra, "lang": "de", "weight": 2}, {"path": ja, "lang": "ja"}])
  data = pairs.load_pairs(cfg)
  assert data.extras["x.de"] == {"lang": "de", "weight": 2.0, "pairs": 2, "dropped": 1}  # the dev article is out
  assert data.train.langs == ["de", "en", "ja"] and data.dev.langs == ["de", "en"]
  assert len(data.train.mono["de"]) == 1 and {p.source for p in data.train.mono_pairs("de")} == {"mlqa-r", "x.de"}
  assert all(p.source == "mlqa-r" for p in data.train.cross_pairs() + data.dev.mono_pairs("de"))
  assert [p.id for p in data.train.mono_pairs("ja")] == ["y.ja:C-q", "y.ja:D-q"]
  weighted = pairs.load_pairs(DataConfig(**{**cfg.__dict__, "extra_mix": "weights"}))
  assert [(s.name, s.weight, len(s.pairs)) for s in weighted.train.mono["de"]] == [
      ("train/mono/de", 1.0, len(mlqa.train.mono_pairs("de"))), ("train/mono/de/x.de", 2.0, 2)]
  for bad, match in (([{"path": extra}], "'path' and 'lang'"), ([{"path": extra, "lang": "de", "w": 1}], "unknown key"),
                     ([{"path": extra, "lang": "de", "weight": 0}], "positive number"),
                     ([{"path": str(tmp_path / "none.json"), "lang": "de"}], "file not found")):
    with pytest.raises(JaxirError, match=match):
      pairs.load_pairs(DataConfig(data_dir=str(DATA), langs=["de", "en"], extra_mono=bad))
  with pytest.raises(JaxirError, match="extra_mix"):
    pairs.load_pairs(DataConfig(**{**cfg.__dict__, "extra_mix": "random"}))


def test_extra_pair_files_feed_the_train_side_only(tmp_path, mlqa):
  """data.extra_pairs: x_y rows join the train x_y pool, x_x rows the x_x pool of their language, a row with a
  dev text is dropped, each pair gets its hard negatives, and nothing reaches the dev side."""
  dev_q = mlqa.corpora["dev"]["de"].questions[0].text
  rows = [{"query": "sawasdee", "positive": "hello", "query_lang": "th", "positive_lang": "en", "group": 1},
          {"query": "hello", "positive": "sawasdee", "query_lang": "en", "positive_lang": "th", "group": 1},
          {"query": "khob khun", "positive": "thank you", "query_lang": "th", "positive_lang": "en"},
          {"query": "good night", "positive": "ratree sawat", "query_lang": "en", "positive_lang": "th"},
          {"query": "wer?", "positive": "wer da.", "query_lang": "de", "positive_lang": "de", "negatives": ["wo?"]},
          {"query": dev_q, "positive": "a dev question", "query_lang": "de", "positive_lang": "en"}]
  path = tmp_path / "tatoeba-th.jsonl"
  path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
  cfg = DataConfig(data_dir=str(DATA), langs=["de", "en"], hard_negatives=1, extra_pairs=[str(path)])
  data = pairs.load_pairs(cfg)
  base = pairs.load_pairs(DataConfig(data_dir=str(DATA), langs=["de", "en"], hard_negatives=1))
  assert data.extras["tatoeba-th"] == {"lang": "de,en,th", "weight": 1.0, "pairs": 5, "cross": 4, "dropped": 1,
                                       "path": str(path)}
  extra = [p for p in data.train.cross_pairs() if p.source == "tatoeba-th"]
  assert sorted((p.query_lang, p.positive_lang) for p in extra) == [("en", "th"), ("en", "th"), ("th", "en"), ("th", "en")]
  assert len(data.train.cross_pairs()) == len(base.train.cross_pairs()) + 4
  assert [p.query for p in data.train.mono_pairs("de") if p.source == "tatoeba-th"] == ["wer?"]
  assert extra[0].cluster == extra[1].cluster != extra[2].cluster            # one group: never in one batch
  for p in extra:                                                             # negatives: the file's other positives
    assert len(p.negatives) == 1 and p.negatives[0] != p.positive
  assert data.train.all_langs == ["de", "en", "th"]
  assert all(p.source == "mlqa-r" for p in data.dev.cross_pairs() + data.dev.mono_pairs("de"))
  assert len(data.dev.cross_pairs()) == len(base.dev.cross_pairs())
  assert "extra pairs tatoeba-th (de,en,th): 5 train pairs, 4 of them x_y (1 rows with a dev text dropped)" in \
      pairs.format_pair_stats(pairs.pair_stats(data))
  with pytest.raises(JaxirError, match="data.extra_pairs not found: .*none.jsonl"):
    pairs.load_pairs(DataConfig(data_dir=str(DATA), langs=["de", "en"], extra_pairs=[str(tmp_path / "none.jsonl")]))
  lonely = tmp_path / "lonely.jsonl"
  lonely.write_text(json.dumps(rows[4] | {"negatives": None}) + "\n", encoding="utf-8")
  with pytest.raises(JaxirError, match="lonely.jsonl:1: cannot find 1 distinct hard negatives in de"):
    pairs.load_pairs(DataConfig(data_dir=str(DATA), langs=["de", "en"], hard_negatives=1, extra_pairs=[str(lonely)]))
  with pytest.raises(JaxirError, match="extra_pairs works with -R sources"):
    from jaxir import config as config_lib
    config_lib.validate(config_lib.from_dict({"data": {"source": "pairs", "path": str(path), "extra_pairs": [str(path)]}}))


def test_tatoeba_pairs_tool_writes_one_half(tmp_path, capsys):
  import importlib.util
  spec = importlib.util.spec_from_file_location("tatoeba_pairs", Path(__file__).parents[1] / "tools" / "tatoeba_pairs.py")
  tool = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(tool)
  from jaxir.data import tatoeba
  first, second = tatoeba.halves(1000)
  assert len(first) == len(second) == 500 and not set(first) & set(second) and tatoeba.halves(1000) == (first, second)
  out = tmp_path / "th.jsonl"
  assert tool.main(["--langs", "th,el", "--out", str(out), "--data-dir", str(DATA)]) == 0
  rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
  src, eng = tatoeba.load_tatoeba(str(DATA), ["th"])["th"]
  assert len(src) == 548 and len(rows) == 2 * (548 // 2 + 1000 // 2)     # half of th and of el, both directions
  first, second = tatoeba.halves(len(src))
  th = [r for r in rows if r["query_lang"] == "th"]
  assert [r["query"] for r in th] == [src[i] for i in first] and [r["positive"] for r in th] == [eng[i] for i in first]
  assert tool.main(["--langs", "th", "--out", str(out), "--half", "2", "--directions", "en-xx", "--data-dir", str(DATA)]) == 0
  rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
  assert [r["positive"] for r in rows] == [src[i] for i in second] and {r["query_lang"] for r in rows} == {"en"}
  mine = tmp_path / "mine.jsonl"
  mine.write_text("not written by the tool\n")
  capsys.readouterr()
  assert tool.main(["--langs", "th", "--out", str(mine), "--data-dir", str(DATA)]) == 2
  assert "was not written by this tool" in capsys.readouterr().err and mine.read_text() == "not written by the tool\n"
  assert tool.main(["--langs", "xx", "--out", str(tmp_path / "x.jsonl"), "--data-dir", str(DATA)]) == 2


# --------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def data_cli(monkeypatch):
  monkeypatch.setattr(cli, "_AREAS", ("jaxir.data.cli",))


def test_cli_pairs_stats(data_cli, capsys):
  assert cli.main(["data", "pairs", "--stats", "--data-dir", str(DATA), "data.langs=[de,en]"]) == 0
  out = capsys.readouterr().out
  assert "x_x (monolingual) pairs" in out and "de-en" in out and "zh" not in out
  assert cli.main(["data", "pairs", "--json", "--data-dir", str(DATA), "data.langs=[de,es]", "data.split_seed=3"]) == 0
  s = json.loads(capsys.readouterr().out)
  assert set(s["train"]["cross"]) == {"de-es", "es-de"} and s["train"]["cross"]["de-es"] + s["dev"]["cross"]["de-es"] == 196


def test_cli_pairs_errors(data_cli, capsys, tmp_path):
  def error(argv):
    assert cli.main(["data", "pairs", "--data-dir", str(DATA)] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxir data: error: ") and err.count("\n") == 1
    return err
  assert "needs cross-lingual pairs" in error(["data.langs=[de]"])                 # hybrid, alpha=0.5
  assert "needs cross-lingual pairs" in error(["data.langs=[de]", "batch.batch_type=x_y"])
  assert cli.main(["data", "pairs", "--data-dir", str(DATA), "data.langs=[de]", "batch.batch_type=x_x_mono"]) == 0
  assert cli.main(["data", "pairs", "--data-dir", str(DATA), "data.langs=[de]", "batch.alpha=1"]) == 0
  capsys.readouterr()
  assert "batch.alpha must lie in [0, 1]" in error(["batch.alpha=1.5"])
  assert "x_x_mono batches need batch.batch_size=1000" in error(["batch.batch_size=1000"])
  assert "unknown config key" in error(["data.lang=[de]"])
  cfg = tmp_path / "c.yaml"
  cfg.write_text("data:\n  langs: [de, en]\n  positive: paragraph\nbatch:\n  batch_type: x_y\n", encoding="utf-8")
  assert cli.main(["data", "pairs", "--config", str(cfg), "--data-dir", str(DATA)]) == 0
