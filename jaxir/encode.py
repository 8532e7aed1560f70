"""Export embeddings of a benchmark: every unique text once, packed rows, few compiled shapes.

Output directory (what `jaxir eval` reads, and nothing else):
  embeddings.npy   [N, H] float32, one row per unique prompted text
  index.json       per language: question ids, question rows, answer index, candidate rows, articles
  texts.json       the N texts (with their prompts), for inspection
  manifest.json    benchmark, its folder and languages, model and its fingerprint, the prompts used,
                   pooling; written last, so a directory with a manifest is complete
An interrupted export resumes from `.partial/`: finished chunks are kept, and a chunk is only
trusted when the plan (model fingerprint and texts) it was written for is the same.
`out` may be a `gs://` directory: chunks, then the export's files and the manifest last, are objects
(`jaxir.storage`), so an interrupted export resumes there the same way.
Several processes (`jax.distributed`, one `out` on a file system they share or one gs:// directory) split the chunks: process i
embeds chunks k with k % process_count == i on its own devices, and process 0 assembles the export.
"""
import hashlib
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from jaxir import storage, packing, schema
from jaxir.errors import JaxirError
from jaxir.finite import NotFinite, check_finite

FORMAT = "jaxir-embeddings/1"


def benchmark_texts(corpora, query_prompt, passage_prompt):
  """Unique prompted texts and the index that maps questions / candidates onto them."""
  texts, row_of = [], {}

  def row(text):
    if text not in row_of:
      row_of[text] = len(texts)
      texts.append(text)
    return row_of[text]

  per_lang = {}
  for lang, c in corpora.items():
    per_lang[lang] = {
        "question_ids": [q.id for q in c.questions],
        "question_rows": [row(query_prompt + q.text) for q in c.questions],
        "answer": [q.answer for q in c.questions],
        "question_article": [q.article for q in c.questions],
        "candidate_rows": [row(passage_prompt + s) for s in c.candidates],
        "candidate_article": list(c.candidate_article),
    }
  return texts, {"langs": list(corpora), "per_lang": per_lang}


def packed_embed_fn(model):
  """`(params, ids, seg, pos, segments) -> [rows, segments, H]` float32: what `Embedder` jits (and
  `jaxir plan` compiles)."""
  import jax.numpy as jnp
  return lambda p, ids, seg, pos, n: model.apply({"params": p}, ids, seg, pos, n, method=model.packed).astype(jnp.float32)


class Embedder:
  """jit-compiled pooled embeddings of packed rows, the batch sharded over this process's devices (each
  process of a multi-host run embeds on its own)."""

  def __init__(self, pretrained, dtype):
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P

    model = pretrained.encoder(getattr(jnp, dtype))
    devices = jax.local_devices()
    self.n_devices = len(devices)
    mesh = jax.make_mesh((len(devices),), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices)
    self.data = NamedSharding(mesh, P("data"))
    self.params = jax.device_put(pretrained.params, NamedSharding(mesh, P()))
    self.fn = jax.jit(packed_embed_fn(model), static_argnums=4)
    self._jax = jax

  def __call__(self, ids, seg, pos, segments):
    put = lambda x: self._jax.device_put(x, self.data)
    return np.asarray(self.fn(self.params, put(ids), put(seg), put(pos), segments))


def _tokenize(tokenizer, texts, max_length):
  """Token ids (lists, no padding) and the pad id."""
  enc = tokenizer(texts, truncation=True, max_length=max_length, padding=False)
  pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
  return enc["input_ids"], pad_id


def _embed_steps(embed, token_ids, pad_id, steps, bar=None):
  """Embeddings [n, H] of the texts of consecutive plan steps, in `Step.members` order."""
  rows = []
  for step in steps:
    ids, seg, pos = packing.arrays(step, token_ids, pad_id)
    rows.append(packing.unpack(step, embed(ids, seg, pos, step.segments)))
    if bar is not None:
      bar.update(len(step.members))
  return np.concatenate(rows)


def _plan(token_ids, max_length, tokens_per_batch, embed):
  return packing.plan([len(t) for t in token_ids], max_length, tokens_per_batch, multiple_of=embed.n_devices)


def embed_texts(pretrained, texts, max_length=512, tokens_per_batch=8192, dtype="float32", embedder=None, bar=None,
                check=True):
  """[len(texts), H] embeddings in input order (no resume; for benchmarks and small jobs).

  Pass the same `embedder` (an `Embedder`) to several calls to reuse its compiled shapes; `bar`
  (anything with `update(n)`, e.g. tqdm) is advanced by the texts of each finished batch. Non-finite
  embeddings are refused (JaxirError) unless `check` is False (the caller checks them itself).
  """
  embed = embedder or Embedder(pretrained, dtype)
  token_ids, pad_id = _tokenize(pretrained.tokenizer, texts, max_length)
  plan = _plan(token_ids, max_length, tokens_per_batch, embed)
  out = np.zeros((len(texts), pretrained.dim), np.float32)
  out[[m for step in plan for m in step.members]] = _embed_steps(embed, token_ids, pad_id, plan, bar)
  if check:
    check_finite(out, f"model {pretrained.path or 'in memory'}", lambda rows: [texts[r] for r in rows])
  return out


def encode_benchmark(model, benchmark, out, data_dir=None, langs=None, max_articles=None,
                     tokens_per_batch=8192, dtype="float32", chunk_texts=2048, progress=True,
                     query_prompt=None, passage_prompt=None):
  """Encodes a benchmark's questions and candidates with `model` (directory, hub id, or a `Pretrained`
  loaded from a directory) into `out`. `benchmark` is xquad-r / mlqa-r (presets) or squad-r (the folder
  `data_dir`, languages from its file names); the prompts, when given, override the model's ("": none).
  Under jax.distributed every process calls it with the same arguments; each embeds its share of the chunks."""
  import jax
  from jaxir.data.squad_r import locate, read_folder
  from jaxir.model.hf_io import Pretrained, effective_prompts, fingerprint, load_pretrained, with_prompts

  out = storage.as_path(out)
  folder, langs = locate(benchmark, data_dir, langs)
  corpora = read_folder(folder, langs, max_articles)
  pretrained = model if isinstance(model, Pretrained) else load_pretrained(model)
  if pretrained.path is None:
    raise JaxirError("encode_benchmark needs a model loaded from a directory (its fingerprint names the export)")
  model = pretrained.path if isinstance(model, Pretrained) else model
  pretrained = with_prompts(pretrained, query_prompt, passage_prompt)
  meta = pretrained.meta
  fp = fingerprint(pretrained.path)
  q_prompt, p_prompt = effective_prompts(meta)
  texts, index = benchmark_texts(corpora, q_prompt, p_prompt)
  max_length = pretrained.max_length
  texts_sha = hashlib.sha256("\n\0".join(texts).encode()).hexdigest()
  plan_id = {"fingerprint": fp, "texts_sha256": texts_sha, "max_length": max_length, "dtype": dtype}
  manifest = {"format": FORMAT, "benchmark": benchmark, "folder": str(Path(folder).absolute()),
              "langs": list(corpora), "max_articles": max_articles,
              "model": str(model), "model_path": str(pretrained.path), "fingerprint": fp,
              "pooling": meta.get("pooling"), "head": meta.get("head"), "normalize": meta.get("normalize"),
              "query_prompt": q_prompt, "passage_prompt": p_prompt,
              "train_langs": meta.get("train_langs"), "max_length": max_length, "dtype": dtype,
              "n_texts": len(texts), "texts_sha256": texts_sha}

  done = out / "manifest.json"
  if done.exists():
    old = storage.read_json(done, "manifest")
    if old.get("fingerprint") != fp:
      raise JaxirError(f"{out} already holds embeddings of another model ({old.get('model')}, {old.get('fingerprint')}); choose another --out")
    if _same_export(old, manifest):
      print(f"encode: {out} is already complete ({len(texts)} texts)", file=sys.stderr)
      return out
    raise JaxirError(f"{out} already holds a different export ({old.get('benchmark')} {old.get('langs')}, other texts or "
                     "prompts); choose another --out")

  n_proc, me = jax.process_count(), jax.process_index()
  sync = _barrier(n_proc)
  fresh = not out.exists()
  partial = out / ".partial"
  plan_file = partial / "plan.json"
  stale = False
  if plan_file.exists():
    old = storage.read_json(plan_file, "plan")
    if old.get("fingerprint") != fp:
      raise JaxirError(f"{out} holds an unfinished export of another model (fingerprint {old.get('fingerprint')}, this one {fp}); "
                       "use another --out or delete it")
    stale = old != plan_id
  sync("jaxir encode: plan read")                 # every process has read the old plan before process 0 replaces it
  if me == 0:
    if stale:
      storage.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    storage.write_json(plan_file, plan_id)
  sync("jaxir encode: plan written")

  embed = Embedder(pretrained, dtype)
  token_ids, pad_id = _tokenize(pretrained.tokenizer, texts, max_length)
  plan = _plan(token_ids, max_length, tokens_per_batch, embed)
  dim = pretrained.dim
  # Chunks group consecutive batches of the plan; each is written atomically once finished.
  chunks, cur = [], []
  for step in plan:
    cur.append(step)
    if sum(len(s.members) for s in cur) >= chunk_texts:
      chunks.append(cur)
      cur = []
  if cur:
    chunks.append(cur)

  start = time.time()
  reused = 0
  from tqdm import tqdm
  mine = range(me, len(chunks), n_proc)          # this process's share (all of them for one process)
  bar = tqdm(total=sum(len(s.members) for k in mine for s in chunks[k]), desc=f"encode {benchmark}", unit="text",
             disable=not progress or me != 0, file=sys.stderr)

  def check(emb, rows=None):
    """Refuses non-finite embeddings, leaving no export behind (nor `out`, when this call made it)."""
    try:
      check_finite(emb, f"encode {benchmark} with {model} (nothing written to {out})",
                   lambda rs: [texts[r] for r in rs], rows)
    except NotFinite:
      bar.close()
      storage.rmtree(out if fresh else partial)
      raise

  for k in mine:
    chunk = chunks[k]
    path = partial / f"chunk_{k:05d}.npz"
    members = [m for step in chunk for m in step.members]
    if _reusable_chunk(path, members, dim):
      reused += len(members)
      bar.update(len(members))
      continue
    rows = _embed_steps(embed, token_ids, pad_id, chunk, bar)
    if n_proc == 1:                # several processes: process 0 checks the whole export (no one-sided exit)
      check(rows, members)
    with storage.atomic_path(path) as tmp:
      with open(tmp, "wb") as f:
        np.savez(f, members=np.asarray(members), emb=rows)
  bar.close()
  sync("jaxir encode: chunks written")
  if me != 0:
    sync("jaxir encode: export written")
    if not done.exists():
      raise JaxirError(f"encode {benchmark}: process 0 did not finish the export into {out} (see its error)")
    return out
  try:
    emb = np.zeros((len(texts), dim), np.float32)
    for k, chunk in enumerate(chunks):
      path = partial / f"chunk_{k:05d}.npz"
      if n_proc > 1 and not _reusable_chunk(path, [m for step in chunk for m in step.members], dim):
        raise JaxirError(f"{path}: chunk {k} of process {k % n_proc} is missing or damaged after all {n_proc} processes "
                         f"finished; is {out} on a file system that every process shares? (run again to resume)")
      with storage.load(path) as z:
        emb[z["members"]] = z["emb"]
    check(emb)                       # chunks of an earlier run, too
    manifest.update({"dim": dim, "seconds": round(time.time() - start, 2), "reused_texts": reused,
                     "texts_per_s": round((len(texts) - reused) / max(time.time() - start, 1e-9), 1),
                     "processes": n_proc})
    storage.write_npy(out / "embeddings.npy", emb)
    storage.write_json(out / "index.json", index)
    storage.write_json(out / "texts.json", texts)
    storage.write_json(done, manifest)
    storage.rmtree(partial)
  finally:
    sync("jaxir encode: export written")         # no process returns before the export is complete (or failed)
  return out


def _barrier(n_proc):
  """`sync(name)`: a barrier of all processes (nothing for one process)."""
  if n_proc == 1:
    return lambda name: None
  from jax.experimental import multihost_utils
  return multihost_utils.sync_global_devices


def _same_export(old, new):
  """Whether a finished export's manifest `old` holds what `new` describes (the same texts, prompts included;
  manifests older than texts_sha256 are compared by benchmark, languages, articles, size and prompts)."""
  keys = ("benchmark", "langs", "max_articles", "n_texts", "query_prompt", "passage_prompt")
  if "texts_sha256" in old:
    keys += ("texts_sha256",)
  return {k: old.get(k) for k in keys} == {k: new[k] for k in keys}


def _reusable_chunk(path, members, dim):
  """Whether the finished chunk at `path` holds the embeddings [len(members), dim] of `members`; a damaged
  one (truncated, garbage, wrong keys or shape) is said on stderr and recomputed (the new one replaces it)."""
  if not path.exists():
    return False
  try:
    with storage.load(path) as z:
      same, emb = z["members"].tolist() == members, z["emb"]
    if same and emb.shape != (len(members), dim):
      raise ValueError(f"emb has shape {emb.shape}, expected {(len(members), dim)}")
    return same
  except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as e:
    why = (str(e).splitlines() or [""])[0][:160]
    print(f"encode: {path} is damaged ({type(e).__name__}: {why}); recomputing it", file=sys.stderr)
    return False


def load_embeddings(path):
  """(manifest, index json, embeddings memmap) of a finished export; clear errors otherwise."""
  path = storage.as_path(path)
  manifest = storage.read_manifest(path, FORMAT, ".partial")
  _check_manifest(manifest, path / "manifest.json")
  index = storage.read_json(path / "index.json", "index")
  try:
    emb = storage.load(path / "embeddings.npy", mmap_mode="r")
  except (OSError, ValueError) as e:
    raise JaxirError(f"{path}/embeddings.npy: unreadable ({e})") from None
  if emb.shape != (manifest.get("n_texts"), manifest.get("dim")):
    raise JaxirError(f"{path}: embeddings.npy has shape {emb.shape}, manifest says ({manifest.get('n_texts')}, {manifest.get('dim')})")
  _check_index(index, emb, path)
  return manifest, index, emb


def _check_manifest(manifest, where):
  """The types of the manifest fields that `jaxir eval` reads."""
  for key in ("n_texts", "dim"):
    schema.expect(manifest, key, int, where)
  schema.items(schema.expect(manifest, "langs", list, where), str, f"{where}: field 'langs'")
  for key, types in (("benchmark", str), ("folder", str), ("model", str), ("fingerprint", str), ("train_langs", (list, None)),
                     ("max_articles", (int, None))):
    schema.expect(manifest, key, types, where, default=None)
  if manifest.get("train_langs") is not None:
    schema.items(manifest["train_langs"], str, f"{where}: field 'train_langs'")


def _check_index(index, emb, path):
  """index.json against embeddings.npy: float rows, and an index that is valid for them (`Index.from_json`)."""
  from jaxir.eval.lareqa import Index
  if emb.dtype.kind != "f":
    raise JaxirError(f"{path}/embeddings.npy: dtype {emb.dtype} is not a float type (jaxir writes float32 embeddings)")
  where = f"{path}/index.json"
  Index.from_json(index, n_rows=emb.shape[0], where=where)
  for l in index["langs"]:
    p = index["per_lang"][l]
    for key, like in (("question_article", "question_ids"), ("candidate_article", "candidate_rows")):
      if key in p:
        arts = schema.items(p[key], int, f"{where}: per_lang.{l}.{key}")
        if len(arts) != len(p[like]):
          raise JaxirError(f"{where}: per_lang.{l}.{key} has {len(arts)} entries for {len(p[like])} {like}")
