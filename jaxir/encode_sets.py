"""Export of a sets benchmark (`jaxir.benchmarks`: tatoeba, beir, miracl, xnli, ...): named text sets -> shard stores.

Output directory (what `jaxir eval` reads, and nothing else):
  <set>/             one embedding store per text set (see `jaxir.shards`), e.g. `dbpedia-5k/corpus`,
                     `dbpedia-5k/queries`, `tatoeba/de/src`; rows in the order the data lists them
  <extra files>      what evaluation needs from the data, copied: qrels (`<dataset>/qrels.tsv`), labels
  plan.json          the model fingerprint this (possibly unfinished) export is for
  manifest.json      format, benchmark, its options, sets, model, fingerprint, prompts; written last,
                     so a directory with a manifest is complete
Each set is prompted with the model's query or passage prompt (`TextSet.prompt`). An interrupted
export resumes shard by shard (a shard is reused when its texts and plan hash the same).
"""
import dataclasses
import sys
import time
import uuid
from typing import Callable

from jaxir import storage
from jaxir.errors import JaxirError

FORMAT = "jaxir-sets/1"


@dataclasses.dataclass
class TextSet:
  name: str                      # relative folder in the export
  records: Callable              # () -> iterable of (id, text), re-iterable
  prompt: str                    # "query" | "passage"
  total: int | None = None


@dataclasses.dataclass
class Spec:
  """What a benchmark exports: its sets, manifest entries and extra files ({relative path: text})."""
  benchmark: str
  sets: list
  info: dict
  files: dict = dataclasses.field(default_factory=dict)


def _model(model, query_prompt=None, passage_prompt=None):
  """(Pretrained, fingerprint): loads a path or hub id; an in-memory model gets a one-off fingerprint.
  The prompts, when given, override the model's ("": none)."""
  from jaxir.model.hf_io import Pretrained, fingerprint, load_pretrained, with_prompts
  if isinstance(model, Pretrained):
    fp = fingerprint(model.path) if model.path else f"in-memory-{uuid.uuid4().hex[:8]}"
    return with_prompts(model, query_prompt, passage_prompt), fp
  pretrained = load_pretrained(model)
  return with_prompts(pretrained, query_prompt, passage_prompt), fingerprint(pretrained.path)


def encode_spec(model, spec, out, tokens_per_batch=8192, dtype="float32", rows_per_shard=100_000,
                shard_dtype="float32", progress=True, query_prompt=None, passage_prompt=None):
  """Embeds every set of `spec` with `model` (directory, hub id or `Pretrained`) into `out`; returns `out`.
  The prompts, when given, override the model's ("": none)."""
  from jaxir.encode import Embedder, embed_texts
  from jaxir.finite import NotFinite
  from jaxir.shards import write_store
  out = storage.as_path(out)
  from jaxir.model.hf_io import effective_prompts
  pretrained, fp = _model(model, query_prompt, passage_prompt)
  meta = pretrained.meta
  max_length = pretrained.max_length
  prompts = dict(zip(("query", "passage"), effective_prompts(meta)))
  manifest = {"format": FORMAT, "benchmark": spec.benchmark, **spec.info,
              "sets": {s.name: {"prompt": s.prompt} for s in spec.sets},
              "model": str(getattr(model, "path", model)), "fingerprint": fp, "pooling": meta.get("pooling"),
              "head": meta.get("head"), "normalize": meta.get("normalize"), "query_prompt": prompts["query"],
              "passage_prompt": prompts["passage"], "train_langs": meta.get("train_langs"),
              "max_length": max_length, "dtype": dtype, "shard_dtype": shard_dtype, "dim": pretrained.dim}
  same = ("benchmark", "sets", *spec.info, "query_prompt", "passage_prompt")
  done = out / "manifest.json"
  if done.exists():
    old = storage.read_json(done, "manifest")
    if old.get("fingerprint") != fp:
      raise JaxirError(f"{out} already holds embeddings of another model ({old.get('model')}, {old.get('fingerprint')}); choose another --out")
    if {k: old.get(k) for k in same} == {k: manifest[k] for k in same}:
      print(f"encode: {out} is already complete", file=sys.stderr)
      return out
    raise JaxirError(f"{out} already holds a different export ({old.get('benchmark')}); choose another --out")
  plan_file = out / "plan.json"
  if plan_file.exists() and storage.read_json(plan_file, "plan").get("fingerprint") != fp:
    raise JaxirError(f"{out} holds an unfinished export of another model; use another --out or delete it")
  fresh = not out.exists()
  storage.write_json(plan_file, {"fingerprint": fp})

  embedder = Embedder(pretrained, dtype)
  start, counts, reused = time.time(), {}, 0
  for s in spec.sets:
    prefix = prompts[s.prompt]
    embed = lambda texts, bar, p=prefix: embed_texts(pretrained, [p + t for t in texts], max_length,
                                                     tokens_per_batch, dtype, embedder, bar, check=False)
    plan = {"fingerprint": fp, "prompt": prefix, "max_length": max_length, "dtype": dtype}
    try:
      store = write_store(out / s.name, s.records(), embed, pretrained.dim, rows_per_shard, shard_dtype, plan,
                          s.total, desc=f"encode {s.name}", progress=progress)
    except NotFinite:
      if fresh:                  # the model gives NaN or inf: nothing of this export is worth keeping
        storage.rmtree(out)
      raise
    counts[s.name] = store["n"]
    reused += store["reused_rows"]
  for rel, text in spec.files.items():
    storage.write_text(out / rel, text)
  seconds = time.time() - start
  manifest.update({"n_texts": counts, "seconds": round(seconds, 2), "reused_texts": reused,
                   "texts_per_s": round((sum(counts.values()) - reused) / max(seconds, 1e-9), 1)})
  storage.write_json(done, manifest)
  return out


def load_export(path, benchmark=None):
  """The manifest of a finished sets export (checking its benchmark when given)."""
  manifest = storage.read_manifest(path, FORMAT, "plan.json")
  if benchmark and manifest.get("benchmark") != benchmark:
    raise JaxirError(f"{path} holds {manifest.get('benchmark')} embeddings, not {benchmark}")
  return manifest
