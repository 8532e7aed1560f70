"""Encoder throughput: jaxir (Flax, jit over length buckets) against the same model under
transformers' PyTorch, on the same texts, side by side in one run.

PyTorch gets the usual sentence-transformers treatment: texts sorted by length, batches of
`--torch-batch` padded to their longest text, `torch.inference_mode()`, mean pooling and L2
normalisation as in the model's sentence-transformers config. Both sides use every core
(`torch.set_num_threads(os.cpu_count())`). Reports texts/s, tokens/s, the cosine between the two
embeddings of every text, and peak resident memory.

  python benchmarks/encoder_speed.py --model runs/e5-small [--data-dir DIR] [--langs en,de,zh] [--n 2000]
"""
import argparse
import json
import os
import resource
import time

import numpy as np


def torch_embed(path, texts, batch, max_length, pooling, normalize):
  import torch
  from transformers import AutoModel, AutoTokenizer
  torch.set_num_threads(os.cpu_count())
  tok = AutoTokenizer.from_pretrained(path)
  model = AutoModel.from_pretrained(path).eval()
  order = np.argsort([len(t) for t in tok(texts, truncation=True, max_length=max_length)["input_ids"]], kind="stable")
  out = np.zeros((len(texts), model.config.hidden_size), np.float32)
  with torch.inference_mode():
    for s in range(0, len(texts), batch):
      idx = order[s:s + batch]
      enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
      h = model(**enc).last_hidden_state
      if pooling == "cls":
        e = h[:, 0]
      else:
        m = enc["attention_mask"].unsqueeze(-1).float()
        e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
      if normalize:
        e = torch.nn.functional.normalize(e, dim=-1)
      out[idx] = e.numpy()
  return out


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--model", required=True)
  ap.add_argument("--data-dir")
  ap.add_argument("--langs", default="en,de,zh,ar,hi")
  ap.add_argument("--n", type=int, default=2000, help="texts (half questions, half candidate sentences)")
  ap.add_argument("--tokens-per-batch", type=int, default=8192)
  ap.add_argument("--torch-batch", type=int, default=32)
  ap.add_argument("--repeats", type=int, default=3)
  args = ap.parse_args()

  from jaxir.data.squad_r import load_benchmark
  from jaxir.encode import Embedder, benchmark_texts, embed_texts
  from jaxir.model.hf_io import load_pretrained

  pre = load_pretrained(args.model)
  corpora = load_benchmark("xquad-r", args.data_dir, args.langs.split(","))
  texts, _ = benchmark_texts(corpora, pre.meta.get("query_prompt", ""), pre.meta.get("passage_prompt", ""))
  texts = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))[:args.n]]
  max_length = int(pre.meta.get("max_length", 512))
  n_tokens = sum(len(t) for t in pre.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"])

  embedder = Embedder(pre, "float32")
  t = time.perf_counter()
  embed_texts(pre, texts, max_length, args.tokens_per_batch, embedder=embedder)   # compiles every shape
  t_jax_cold = time.perf_counter() - t
  torch_embed(args.model, texts[:64], args.torch_batch, max_length, pre.meta["pooling"], pre.meta["normalize"])
  # Alternate the two sides and keep each one's best time: robust to other load on the machine.
  t_jax = t_torch = float("inf")
  for _ in range(args.repeats):
    t = time.perf_counter()
    jx = embed_texts(pre, texts, max_length, args.tokens_per_batch, embedder=embedder)
    t_jax = min(t_jax, time.perf_counter() - t)
    t = time.perf_counter()
    pt = torch_embed(args.model, texts, args.torch_batch, max_length, pre.meta["pooling"], pre.meta["normalize"])
    t_torch = min(t_torch, time.perf_counter() - t)

  cos = (jx * pt).sum(1) / np.linalg.norm(jx, axis=1) / np.linalg.norm(pt, axis=1)
  print(json.dumps({
      "texts": len(texts), "repeats": args.repeats, "tokens": n_tokens, "cores": os.cpu_count(),
      "jaxir_first_run_s": round(t_jax_cold, 2), "jaxir_s": round(t_jax, 2), "torch_s": round(t_torch, 2),
      "jaxir_texts_per_s": round(len(texts) / t_jax, 1), "jaxir_tokens_per_s": round(n_tokens / t_jax),
      "torch_texts_per_s": round(len(texts) / t_torch, 1), "torch_tokens_per_s": round(n_tokens / t_torch),
      "speedup": round(t_torch / t_jax, 2), "cosine_min": round(float(cos.min()), 6),
      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
  main()
