"""The benchmark registry (`jaxir.benchmarks`): names and options checked once, one clear line for bad ones;
and a toy benchmark added the way a new one is (one module file plus one registry line) runs through
`jaxir encode`, `jaxir eval`, a tiny sweep, its report and the model card with nothing else touched."""
import importlib
import json
import sys

import pytest

from jaxir import benchmarks, cli
from jaxir.benchmarks import registry
from jaxir.errors import JaxirError

from conftest import DATA, tiny_model

# The whole of a new benchmark: its options, data check, what to encode, how to evaluate, its table,
# summary metrics, report notes and card entry. Its task: find each line's twin among the other side's.
TOY = '''
"""Toy twins: accuracy@1 of finding each line of a.txt among b.txt (line-aligned)."""
import dataclasses

import numpy as np

from jaxir.benchmarks.registry import Benchmark, Card, Metric, register
from jaxir.errors import JaxirError


@dataclasses.dataclass
class Options:
  max_pairs: int | None = None


def check(opts, root):
  if not (root / "toy" / "a.txt").is_file():
    raise JaxirError(f"{root / 'toy'} has no a.txt")


def sets(data_dir, opts):
  from jaxir.data.sources import data_root
  from jaxir.encode_sets import Spec, TextSet
  folder = data_root(data_dir) / "toy"
  check(opts, data_root(data_dir))
  sides = {s: (folder / f"{s}.txt").read_text().splitlines()[:opts.max_pairs] for s in "ab"}
  return Spec("toy", [TextSet(s, lambda t=t: list(enumerate(t)), "query", len(t)) for s, t in sides.items()],
              {"max_pairs": opts.max_pairs})


def evaluate(path, out, opts, **knobs):
  from jaxir.encode_sets import load_export
  from jaxir.shards import Store
  manifest = load_export(path, "toy")
  a, b = Store(path / "a").read(), Store(path / "b").read()
  acc = float(np.mean((a @ b.T).argmax(1) == np.arange(len(a))))
  return {"benchmark": "toy", "acc": acc, "n": len(a), "fingerprint": manifest["fingerprint"],
          "headline": {"acc": acc}}


register(Benchmark(
    "toy", "sets", "Toy twins", Card("bitext-mining", "toy", "Toy", "test", (("acc", "accuracy", "acc@1"),)),
    Options, check, sets, evaluate, table=lambda s: f"toy acc@1 {100 * s['acc']:.1f} ({s['n']} lines)",
    metrics=lambda summaries: [Metric("Toy acc@1", lambda s: s.get("acc"), unit="acc@1")],
    notes=lambda s: f"Toy: {s['n']} line pairs", scores=("acc",)))
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
  """The toy module written to a file and registered by one line (its import); unregistered afterwards."""
  (tmp_path / "mods").mkdir()
  (tmp_path / "mods" / "toy_bench.py").write_text(TOY)
  monkeypatch.syspath_prepend(str(tmp_path / "mods"))
  importlib.import_module("toy_bench")                              # the registry line
  yield registry.REGISTRY["toy"]
  registry.REGISTRY.pop("toy")
  sys.modules.pop("toy_bench")


def _data(root):
  lines = ["the cat sleeps", "rivers run to the sea", "a cup of tea", "trains are late", "stars at night",
           "bread and butter"]
  (root / "toy").mkdir(parents=True)
  (root / "toy" / "a.txt").write_text("\n".join(lines) + "\n")
  (root / "toy" / "b.txt").write_text("\n".join(l.upper() for l in lines) + "\n")
  return root


def test_unknown_names_and_bad_options_are_one_line():
  with pytest.raises(JaxirError, match=r"unknown benchmark 'tatoba'; did you mean tatoeba\? \(choose from .*beir"):
    benchmarks.get("tatoba")
  with pytest.raises(JaxirError, match="unknown benchmark 'mlqa-r-dev'"):
    benchmarks.get("mlqa-r-dev", tool="encode")
  tat = benchmarks.get("tatoeba")
  with pytest.raises(JaxirError, match="--max-pairs must be a positive integer, got 0"):
    registry.make_options(tat, {"max_pairs": 0})
  with pytest.raises(JaxirError, match="--datasets applies to --benchmark beir, not tatoeba"):
    registry.make_options(tat, {"datasets": ["x"]})
  with pytest.raises(JaxirError, match="--langs lists a name twice"):
    registry.make_options(tat, {"langs": ["de", "de"]})
  with pytest.raises(ValueError, match="registered twice"):
    registry.register(tat)
  assert registry.all_names(benchmarks.get("xnli").options(["de"], 0.5)) == benchmarks.get("xnli").options(None, 0.5)


def test_sweep_config_sections_follow_the_registry():
  from jaxir.sweep import spec as spec_lib
  ev = spec_lib.eval_config()
  assert {b.key for b in spec_lib.sets_benchmarks()} <= set(vars(ev)) and ev.xnli.probe_c is None
  with pytest.raises(JaxirError, match="eval.xnli.probe_c must be a positive finite number"):
    spec_lib.build(None, ["eval.xnli.probe_c=-1", "eval.benchmarks=[xquad-r]"])
  with pytest.raises(JaxirError, match=r"unknown sweep config key eval.tatoeba.'lang'; did you mean eval.tatoeba.langs\?"):
    spec_lib.build(None, ["eval.tatoeba.lang=[de]"])


def test_a_toy_benchmark_runs_through_encode_eval_sweep_report_and_card(toy, tmp_path, capsys, monkeypatch):
  data = _data(tmp_path / "data")
  model = tiny_model(tmp_path / "model", 0)
  emb, ev = tmp_path / "emb", tmp_path / "ev"
  assert cli.main(["encode", "--model", str(model), "--benchmark", "toy", "--data-dir", str(data), "--out", str(emb),
                   "--max-pairs", "5"]) == 0
  assert cli.main(["eval", "--embeddings", str(emb), "--out", str(ev)]) == 0
  summary = json.loads((ev / "summary.json").read_text())
  assert summary["n"] == 5 and 0 <= summary["acc"] <= 1 and "toy acc@1" in capsys.readouterr().out
  assert cli.main(["eval", "--embeddings", str(emb), "--out", str(ev), "--langs", "de"]) == 2
  assert "--langs applies to --benchmark tatoeba, miracl, xnli, not toy" in capsys.readouterr().err

  # A sweep with eval.toy.* options: the zero-shot reference and one training cell, whose training (not what
  # is tested here; tests/test_sweep.py trains) stands in as another tiny model, evaluated on the toy benchmark.
  import shutil
  import jaxir.train.trainer as trainer

  def train(cfg, progress=True):
    shutil.copytree(tiny_model(tmp_path / "trained", 1), f"{cfg.out_dir}/export")
    (tmp_path / "trained.json").write_text(json.dumps({"train_langs": ["en", "de"]}))
    shutil.copy(tmp_path / "trained.json", f"{cfg.out_dir}/run.json")
    return cfg.out_dir

  monkeypatch.setattr(trainer, "train", train)
  sweep = tmp_path / "sw"
  assert cli.main(["sweep", "--quiet", "--out", str(sweep), f"train.model.name={model}", "train.steps=1",
                   "train.batch.batch_size=4", f"train.data.data_dir={DATA}", "train.data.langs=[en,de]",
                   "train.data.max_query_length=16", "train.data.max_passage_length=32", "train.eval_every=0",
                   "train.checkpoint_every=100", "grid.alphas=[1]", "grid.seeds=1", "eval.benchmarks=[toy]",
                   f"eval.data_dir={data}", "eval.toy.max_pairs=4"]) == 0
  record = json.loads((sweep / "sweep.json").read_text())
  assert record["spec"]["eval"]["toy"] == {"max_pairs": 4}
  for cell in ("zero-shot", "hybrid_a1_s0"):
    assert json.loads((sweep / "cells" / cell / "eval" / "toy" / "summary.json").read_text())["n"] == 4
  assert cli.main(["report", str(sweep), "--out", str(tmp_path / "rep"), "--resamples", "99"]) == 0
  md = (tmp_path / "rep" / "report.md").read_text()
  assert "## Beyond LAReQA" in md and "Toy: 4 line pairs" in md and "figures/toy_curves.png" in md
  assert "| Toy acc@1 |" in md

  from jaxir.model import card
  results = card.read_results([ev / "summary.json"])
  assert [r.metric_name for r in card.eval_results(results)] == ["acc@1"]
