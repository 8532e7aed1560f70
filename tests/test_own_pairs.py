"""Training on your own pairs: JSONL / Parquet / CSV / TSV / `datasets` files and -R folders (issue #17)."""
import csv
import json
from pathlib import Path

import pytest

from jaxir import cli, config
from jaxir.config import DataConfig
from jaxir.data import hybrid, own_pairs, pairs
from jaxir.errors import JaxirError
from conftest import tiny_model

LANGS = ("xx", "qu", "haw")


def _rows(n_groups=12, langs=LANGS, negatives=True):
  """Parallel rows: per group, a mono pair in every language and cross pairs of consecutive languages."""
  out = []
  for g in range(n_groups):
    for i, ql in enumerate(langs):
      for pl in dict.fromkeys((ql, langs[(i + 1) % len(langs)])):
        row = {"query": f"{ql} question {g}?", "positive": f"{pl} answer {g}.", "query_lang": ql,
               "positive_lang": pl, "group": f"g{g}"}
        if negatives:
          row["negatives"] = [f"{pl} wrong {g}."]
        out.append(row)
  return out


def _write(path, rows, fmt=None):
  path = Path(path)
  fmt = fmt or path.suffix[1:]
  if fmt == "jsonl":
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
  elif fmt in ("csv", "tsv"):
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", encoding="utf-8", newline="") as f:
      w = csv.writer(f, delimiter="\t" if fmt == "tsv" else ",")
      w.writerow(keys)
      for r in rows:
        w.writerow([json.dumps(r[k]) if k == "negatives" else r.get(k, "") for k in keys])
  elif fmt == "parquet":
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_pylist(rows), path)
  elif fmt == "datasets":
    import datasets
    datasets.Dataset.from_list(rows).save_to_disk(str(path))
  return path


def _cfg(path, **kw):
  return DataConfig(source="pairs", path=str(path), **kw)


def _content(data):
  """The pairs of both sides without their file locations: what must not depend on the format."""
  return {side: sorted((p.query, p.positive, p.query_lang, p.positive_lang, p.negatives, p.cluster)
                       for pools in [getattr(data, side)]
                       for p in [q for l in pools.langs for q in pools.mono_pairs(l)] + pools.cross_pairs())
          for side in pairs.SIDES}


# --------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "datasets"])
def test_every_format_reads_to_the_same_pairs(tmp_path, fmt):
  if fmt == "datasets":
    pytest.importorskip("datasets")
  rows = _rows()
  ref = pairs.load_pairs(_cfg(_write(tmp_path / "p.jsonl", rows), hard_negatives=1))
  path = _write(tmp_path / ("ds" if fmt == "datasets" else f"p.{fmt}"), rows, fmt)
  data = pairs.load_pairs(_cfg(path, hard_negatives=1))
  assert _content(data) == _content(ref)
  assert data.source_info["rows"] == len(rows) and data.source_info["bad_rows"] == 0


def test_a_folder_of_shards_reads_like_one_file(tmp_path):
  rows = _rows()
  ref = pairs.load_pairs(_cfg(_write(tmp_path / "all.jsonl", rows)))
  shards = tmp_path / "shards"
  shards.mkdir()
  _write(shards / "part-00.jsonl", rows[:20])
  _write(shards / "part-01.csv", rows[20:50])
  _write(shards / "part-02.parquet", rows[50:])
  (shards / "README.md").write_text("not a shard")
  data = pairs.load_pairs(_cfg(shards))
  assert _content(data) == _content(ref) and data.source_info["files"] == 3
  first = data.train.cross_pairs()[0].id
  assert first.startswith("shards/part-0")   # pairs name their shard and line, not where the folder lies


def test_hard_negatives_do_not_depend_on_where_the_file_lies(tmp_path, monkeypatch):
  """Negatives topped up from other positives are seeded by the pair's id: the file name and line, so the
  same file in another folder (another machine, a pod worker's staging folder) trains the same."""
  rows = _rows(negatives=False)
  a, b = tmp_path / "here", tmp_path / "else" / "where"
  b.mkdir(parents=True)
  a.mkdir()
  one = pairs.load_pairs(_cfg(_write(a / "p.jsonl", rows), hard_negatives=1))
  two = pairs.load_pairs(_cfg(_write(b / "p.jsonl", rows), hard_negatives=1))
  assert _content(one) == _content(two)
  assert all(len(p.negatives) == 1 for p in one.train.cross_pairs())
  assert {p.id for p in one.train.cross_pairs()} == {p.id for p in two.train.cross_pairs()}
  monkeypatch.setenv("HOME", str(b))                                           # a ~ path names the same file
  home = pairs.load_pairs(_cfg("~/p.jsonl", hard_negatives=1))
  assert {p.id for p in home.train.cross_pairs()} == {p.id for p in one.train.cross_pairs()}


# --------------------------------------------------------------------------------------------- groups, languages


def test_groups_split_and_batches(tmp_path):
  data = pairs.load_pairs(_cfg(_write(tmp_path / "p.jsonl", _rows(20)), dev_fraction=0.25, split_seed=1))
  group = lambda p: p.query.split()[-1].rstrip("?")   # the group number, in every text of a group

  def groups(pools):
    return {group(p) for l in pools.langs for p in pools.mono_pairs(l)} | {group(p) for p in pools.cross_pairs()}
  train, dev = groups(data.train), groups(data.dev)
  assert not train & dev and len(train | dev) == 20 and len(dev) == 5
  assert data.groups == {"train": 15, "dev": 5}
  assert pairs.load_pairs(_cfg(_write(tmp_path / "p.jsonl", _rows(20)), dev_fraction=0.25, split_seed=2)).dev != data.dev
  for batch_type in ("hybrid", "mixed", "x_y", "x_x_mono"):
    b = config.BatchConfig(batch_type=batch_type, batch_size=8, alpha=0.5)
    for step in range(10):
      batch = hybrid.sample_batch(0, step, data.train, b)
      assert len({group(p) for p in batch.pairs}) == 8, (batch_type, step)   # at most one pair per group
  # Resume: a reload of the same files gives the same pools, so the batch of a step is the same.
  again = pairs.load_pairs(_cfg(tmp_path / "p.jsonl", dev_fraction=0.25, split_seed=1))
  b = config.BatchConfig(batch_size=8, alpha=0.5)
  assert again.train == data.train and all(
      hybrid.sample_batch(3, s, again.train, b) == hybrid.sample_batch(3, s, data.train, b) for s in (0, 7, 50))
  # Without groups each row is its own group; rows that share a text are still joined.
  rows = [dict(r, group=None) for r in _rows(20)]
  loose = pairs.load_pairs(_cfg(_write(tmp_path / "loose.jsonl", rows)))
  assert not groups(loose.train) & groups(loose.dev)


def test_repeated_rows_are_dropped_and_join_their_groups(tmp_path):
  a = dict(GOOD, group="A")
  rows = [a, dict(a, group="B"), dict(GOOD, query="other?", positive="other.", group="B"),
          dict(GOOD, query="third?", positive="third.", group="C")]
  kept, info = own_pairs.read_rows(_write(tmp_path / "p.jsonl", rows))
  assert len(kept) == 3 and info["duplicates"] == 1
  comp = own_pairs.components(kept)
  assert comp[0] == comp[1] != comp[2]


def test_new_languages_and_mono_cross(tmp_path):
  rows = _rows(6, ("xx", "qu", "haw", "pt-BR"))
  data = pairs.load_pairs(_cfg(_write(tmp_path / "p.jsonl", rows), dev_fraction=0.3))
  assert data.train.langs == ["haw", "pt-BR", "qu", "xx"] == data.train.all_langs
  for l in data.train.langs:
    assert all(p.mono and p.query_lang == p.positive_lang == l for p in data.train.mono_pairs(l))
  assert all(not p.mono and p.query_lang != p.positive_lang for p in data.train.cross_pairs())
  n = len(data.train.cross_pairs()) + len(data.dev.cross_pairs())
  assert n == sum(r["query_lang"] != r["positive_lang"] for r in rows)


def test_impossible_batch_types_are_refused(tmp_path):
  mono = _write(tmp_path / "mono.jsonl", [r for r in _rows() if r["query_lang"] == r["positive_lang"]])
  cross = _write(tmp_path / "cross.jsonl", [r for r in _rows() if r["query_lang"] != r["positive_lang"]])
  one = _write(tmp_path / "one.jsonl", [r for r in _rows() if r["query_lang"] == r["positive_lang"] == "qu"])

  def refused(path, **batch):
    with pytest.raises(JaxirError) as e:
      hybrid.check(pairs.load_pairs(_cfg(path)).train, config.BatchConfig(batch_size=4, **batch))
    assert "\n" not in str(e.value)
    return str(e.value)
  assert "needs cross-lingual pairs" in refused(mono)                               # hybrid alpha=0.5
  assert "needs cross-lingual pairs" in refused(one, batch_type="x_y")              # a single language
  assert "query_lang and positive_lang differ" in refused(mono, batch_type="mixed", alpha=0.9)
  assert "needs monolingual pairs" in refused(cross, batch_type="x_x_mono")
  assert "needs monolingual pairs" in refused(cross, alpha=0.1)
  hybrid.check(pairs.load_pairs(_cfg(cross)).train, config.BatchConfig(batch_size=4, alpha=0.0))
  hybrid.check(pairs.load_pairs(_cfg(one)).train, config.BatchConfig(batch_size=4, batch_type="x_x_mono"))


# --------------------------------------------------------------------------------------------- bad rows


GOOD = {"query": "q?", "positive": "a.", "query_lang": "xx", "positive_lang": "qu"}


@pytest.mark.parametrize("line, field", [
    (json.dumps({k: v for k, v in GOOD.items() if k != "positive"}), "field 'positive' is missing"),
    (json.dumps(dict(GOOD, query="  ")), "field 'query' is empty"),
    (json.dumps(dict(GOOD, query_lang="English")), "field 'query_lang' 'English' is not a language code"),
    (json.dumps(dict(GOOD, positive_lang=3)), "field 'positive_lang' must be a string"),
    (json.dumps(dict(GOOD, negatives="a text")), "field 'negatives' must be a list of texts"),
    (json.dumps(dict(GOOD, negatives=["ok", ""])), "field 'negatives' item 1"),
    (json.dumps(dict(GOOD, group=[1])), "field 'group' must be a string or an integer"),
    ('{"query": "q?", "positive": ', "malformed JSON"),
    ("[1, 2]", "not a JSON object"),
    (b'{"query": "caf\xe9", "positive": "a", "query_lang": "xx", "positive_lang": "xx"}', "not UTF-8"),
])
def test_bad_jsonl_row_is_one_line_naming_file_line_and_field(tmp_path, line, field):
  path = tmp_path / "p.jsonl"
  good = "".join(json.dumps(r) + "\n" for r in _rows(4)).encode()
  path.write_bytes(good + b"\n" + (line if isinstance(line, bytes) else line.encode()) + b"\n" + good)
  with pytest.raises(JaxirError) as e:
    pairs.load_pairs(_cfg(path))
  msg = str(e.value)
  assert "\n" not in msg and f"{path}:{len(_rows(4)) + 2}: " in msg and field in msg, msg
  data = pairs.load_pairs(_cfg(path, on_bad_rows="skip"))
  assert data.source_info["bad_rows"] == 1 and data.source_info["duplicates"] == len(_rows(4))


def test_bad_rows_in_csv_and_parquet_name_line_or_row(tmp_path):
  rows = _rows(4, negatives=False)
  c = _write(tmp_path / "p.csv", rows + [dict(GOOD, query_lang="x_1")])
  with pytest.raises(JaxirError, match=rf"{c}:{len(rows) + 2}: field 'query_lang'"):
    pairs.load_pairs(_cfg(c))
  rows_neg = [dict(r, negatives=["n"]) for r in rows]
  c2 = _write(tmp_path / "n.csv", rows_neg)
  c2.write_text(c2.read_text(encoding="utf-8") + "q,a,xx,xx,g,[not json\n", encoding="utf-8")
  with pytest.raises(JaxirError, match=rf"{c2}:{len(rows) + 2}: field 'negatives' must be a JSON list"):
    pairs.load_pairs(_cfg(c2))
  p = _write(tmp_path / "p.parquet", rows + [dict(GOOD, positive="")])
  with pytest.raises(JaxirError, match=rf"{p} row {len(rows)}: field 'positive' is empty"):
    pairs.load_pairs(_cfg(p))
  missing = _write(tmp_path / "m.csv", [{k: v for k, v in r.items() if k != "query_lang"} for r in rows])
  with pytest.raises(JaxirError, match=rf"{missing}:1: no column 'query_lang'"):
    pairs.load_pairs(_cfg(missing))


def test_skip_counts_bad_rows_and_says_so(tmp_path, capsys):
  path = tmp_path / "p.jsonl"
  lines = [json.dumps(r) for r in _rows(6)]
  lines[3] = "{broken"
  lines[7] = json.dumps(dict(GOOD, query_lang="??"))
  lines[9] = json.dumps(dict(GOOD, positive=None))
  lines[11] = json.dumps(dict(GOOD, query=""))
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  data = pairs.load_pairs(_cfg(path, on_bad_rows="skip"))
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and f"skipped 4 bad row(s) of {path}" in err and f"{path}:4: malformed JSON" in err
  info = data.source_info
  assert info["bad_rows"] == 4 and len(info["bad_examples"]) == 3 and info["rows"] == len(lines) - 4
  all_bad = _write(tmp_path / "bad.jsonl", [dict(GOOD, query="")])
  with pytest.raises(JaxirError, match="no pairs to train on .all 1 rows are bad"):
    pairs.load_pairs(_cfg(all_bad, on_bad_rows="skip"))


def test_config_checks_source_and_path(tmp_path):
  f = _write(tmp_path / "p.jsonl", _rows(2))
  assert config.build(None, ["data.source=pairs", f"data.path={f}"]).data.path == str(f)
  for overrides, msg in [(["data.source=tsv"], "unknown data.source 'tsv'; choose from mlqa-r, pairs, squad-r"),
                         (["data.source=pairs"], "data.source=pairs needs data.path=PATH"),
                         (["data.source=squad-r", f"data.path={tmp_path / 'nope'}"], "data.path not found"),
                         (["data.source=squad-r", f"data.path={f}"], "needs data.path to be a folder"),
                         ([f"data.path={f}"], "data.path is read only by data.source=pairs or squad-r"),
                         (["data.source=pairs", f"data.path={f}", "data.on_bad_rows=warn"], "unknown data.on_bad_rows")]:
    with pytest.raises(JaxirError, match=msg.replace(".", r"\.")):
      config.build(None, overrides)
  with pytest.raises(JaxirError, match="unknown pairs format '.txt'"):
    pairs.load_pairs(_cfg(_write(tmp_path / "p.txt", _rows(2), "jsonl")))


# --------------------------------------------------------------------------------------------- -R folders


def _write_r_dir(root, langs, n=6):
  """A folder of tiny parallel -R files <lang>.json: n articles, one question each, ids shared."""
  root.mkdir()
  for lang in langs:
    data = []
    for k in range(n):
      sents = [f"{lang} a{k} s{j}." for j in range(3)]
      context, breaks = "", []
      for s in sents:
        breaks.append([len(context), len(context) + len(s)])
        context += s + " "
      qas = [{"id": f"q{k}", "question": f"{lang} q{k}?", "answers": [{"answer_start": breaks[1][0], "text": "x"}]}]
      data.append({"title": f"{lang}-t{k}", "paragraphs": [{"context": context, "sentences": sents,
                                                             "sentence_breaks": breaks, "qas": qas}]})
    (root / f"{lang}.json").write_text(json.dumps({"data": data}), encoding="utf-8")
  return root


def test_squad_r_folder_any_languages(tmp_path):
  root = _write_r_dir(tmp_path / "r", ("haw", "qu", "xx"))
  data = pairs.load_pairs(DataConfig(source="squad-r", path=str(root), dev_fraction=0.34))
  assert data.train.langs == ["haw", "qu", "xx"] and data.groups == {"train": 4, "dev": 2}
  assert len(data.train.cross_pairs()) == 4 * 6 and all(p.source == "squad-r" for p in data.train.cross_pairs())
  sub = pairs.load_pairs(DataConfig(source="squad-r", path=str(root), langs=["qu", "xx"]))
  assert sub.train.langs == ["qu", "xx"]
  with pytest.raises(JaxirError, match="unknown language.s. en for .* it has haw qu xx"):
    pairs.load_pairs(DataConfig(source="squad-r", path=str(root), langs=["en"]))
  (root / "notes.json").write_text("{}")
  with pytest.raises(JaxirError, match="notes.json: file name 'notes.json' is not a language code"):
    pairs.load_pairs(DataConfig(source="squad-r", path=str(root)))


@pytest.fixture
def data_cli(monkeypatch):
  monkeypatch.setattr(cli, "_AREAS", ("jaxir.data.cli",))


def test_cli_pairs_stats_on_pairs_and_squad_r(data_cli, tmp_path, capsys):
  f = _write(tmp_path / "p.jsonl", _rows(8))
  assert cli.main(["data", "pairs", "--stats", "data.source=pairs", f"data.path={f}", "batch.batch_size=4"]) == 0
  out = capsys.readouterr().out
  assert f"{f}: 48 pairs from 1 file(s)" in out and "xx-qu" in out and "qu-xx" not in out and "haw " in out
  assert cli.main(["data", "pairs", "--json", "data.source=pairs", f"data.path={f}", "batch.batch_size=4"]) == 0
  s = json.loads(capsys.readouterr().out)
  assert s["train"]["mono_total"] + s["dev"]["mono_total"] == 24 and s["source"]["rows"] == 48
  root = _write_r_dir(tmp_path / "r", ("haw", "xx"))
  assert cli.main(["data", "pairs", "--stats", "data.source=squad-r", f"data.path={root}", "batch.batch_size=2"]) == 0
  out = capsys.readouterr().out
  assert "article groups:" in out and "haw-xx" in out
  # bad input: one line, exit 2
  assert cli.main(["data", "pairs", "data.source=pairs", f"data.path={tmp_path / 'none.jsonl'}"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("jaxir data: error: data.path not found") and err.count("\n") == 1
  mono = _write(tmp_path / "mono.jsonl", [r for r in _rows(8) if r["query_lang"] == r["positive_lang"]])
  assert cli.main(["data", "pairs", "data.source=pairs", f"data.path={mono}", "batch.batch_size=4"]) == 2
  err = capsys.readouterr().err
  assert "needs cross-lingual pairs" in err and err.count("\n") == 1


# --------------------------------------------------------------------------------------------- dev evaluation


def test_dev_set_is_parallel_by_group(tmp_path):
  data = pairs.load_pairs(_cfg(_write(tmp_path / "p.jsonl", _rows(10)), dev_fraction=0.2))
  langs, queries, cands, rel = own_pairs.dev_set(data.dev)
  assert langs == ["haw", "qu", "xx"] and len(queries) == 2 * 3 and all(len(cands[l]) == 2 for l in langs)
  for (ql, text, _), row in zip(queries, rel):
    g = text.split()[-1].rstrip("?")
    for l, j in zip(langs, row):
      assert cands[l][j] == f"{l} answer {g}."    # every language's answer of its group is relevant


def test_train_on_a_pairs_file_in_made_up_languages(tmp_path):
  from jaxir.train import trainer
  model = tiny_model(tmp_path / "tiny", 0)
  f = tmp_path / "p.jsonl"
  lines = [json.dumps(r) for r in _rows(16, negatives=False)] + [json.dumps(dict(GOOD, query_lang="bad code"))]
  f.write_text("\n".join(lines) + "\n", encoding="utf-8")
  out = tmp_path / "run"
  cfg = config.build(None, [f"out_dir={out}", f"model.name={model}", "data.source=pairs", f"data.path={f}",
                            "data.on_bad_rows=skip", "data.dev_fraction=0.25", "steps=4", "log_every=2",
                            "checkpoint_every=4", "eval_every=4", "batch.batch_size=4", "batch.alpha=0.5",
                            "optim.warmup_steps=1", "data.max_query_length=16", "data.max_passage_length=16"])
  trainer.train(cfg, progress=False)
  records = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
  start = records[0]
  assert start["event"] == "start" and start["bad_rows"] == 1 and start["train_langs"] == ["haw", "qu", "xx"]
  assert start["pairs_train"]["mono"] > 0 and start["pairs_train"]["cross"] > 0
  dev = [r for r in records if r.get("event") == "dev"]
  assert len(dev) == 1 and all(0 < dev[0][k] <= 1 for k in ("Mo", "Cr", "Mul"))
  run = json.loads((out / "run.json").read_text())
  assert run["steps"] == 4 and run["train_langs"] == ["haw", "qu", "xx"]
  assert (out / "export" / "model.safetensors").is_file()
  assert json.loads((out / "export" / "jaxir.json").read_text())["train_langs"] == ["haw", "qu", "xx"]
