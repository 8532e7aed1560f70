"""`jaxir plan`: the train and encode steps compiled for a TPU slice (libtpu), GPUs (the CUDA plugin) or this CPU,
without the hardware."""
import importlib.util
import json
from pathlib import Path

import pytest

from jaxir import cli, plan
from jaxir import config as config_lib
from jaxir.errors import JaxirError
from jaxir.model.config import EncoderConfig

TINY = {"model_type": "bert", "vocab_size": 1000, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 32, "max_position_embeddings": 128, "type_vocab_size": 2, "pad_token_id": 1}
SMALL = ["batch.batch_size=8", "data.max_query_length=16", "data.max_passage_length=32"]
CPU_PEAKS = ["--peak-flops", "1e10", "--hbm-bandwidth", "1e10"]   # no start-up measurement in tests
HAS_LIBTPU = importlib.util.find_spec("libtpu") is not None
HAS_CUDA_PLUGIN = importlib.util.find_spec("jax_cuda13_plugin") is not None


@pytest.fixture
def tiny(tmp_path):
  path = tmp_path / "config.json"
  path.write_text(json.dumps(TINY))
  return str(path)


def _plan(args, capsys):
  rc = cli.main(["plan"] + args)
  out = capsys.readouterr()
  return rc, out.out, out.err


def test_cpu_plan_writes_the_record(tiny, tmp_path, capsys):
  out = tmp_path / "plan.json"
  rc, stdout, _ = _plan(["--topology", "cpu", "--model-config", tiny, "--json", str(out)] + CPU_PEAKS + SMALL, capsys)
  assert rc == 0
  assert stdout.startswith("plan: cpu") and "fits" in stdout and len(stdout.strip().splitlines()) == 1
  r = json.loads(out.read_text())
  assert r["fits"] and r["topology"] == "cpu" and r["hosts"] == 1 and r["dtype"] == "float32"
  m = r["memory"]
  assert r["hbm_bytes_per_chip"] == m["argument_bytes"] + m["temp_bytes"] + m["output_bytes"] - m["alias_bytes"] > 0
  assert r["flops_per_step"] > 0 and r["bytes_per_step"] > 0
  assert r["step_seconds_roofline"] == pytest.approx(max(r["flops_per_step"] / 1e10, r["bytes_per_step"] / 1e10))
  assert r["pairs_per_second"] == pytest.approx(8 / r["step_seconds_roofline"])
  assert r["tokens_per_second"] == pytest.approx(r["tokens_per_step"] / r["step_seconds_roofline"])
  assert set(r["collectives"]) == set(plan.COLLECTIVES) and r["compile_seconds"] > 0
  # packed (the default): 8 queries of 16 tokens two to a row... the rows the pipeline's packer gives
  assert r["packed"] and r["batch_shapes"]["packed_ids"][1] == 32 and r["batch_shapes"]["query_slot"] == [8]
  assert r["encode"]["fits"] and r["encode"]["flops_per_step"] > 0 and r["encode"]["row_length"] == 128
  assert f"encode {r['encode']['rows']}x128 tokens: fits" in stdout


def test_plan_compiles_even_with_a_persistent_cache(tiny, tmp_path, capsys):
  """A user's persistent compilation cache is neither read nor written by `jaxir plan`: its compile_seconds is
  a compile's time, never a cache lookup's."""
  import jax
  from jaxir import backends
  cache = tmp_path / "xla"
  with backends.jax_cache_settings(jax_compilation_cache_dir=str(cache), jax_persistent_cache_min_compile_time_secs=0.0):
    rc, _, _ = _plan(["--topology", "cpu", "--model-config", tiny] + CPU_PEAKS + SMALL, capsys)
    assert rc == 0
    written = sorted(p.name for p in cache.glob("*")) if cache.exists() else []
    assert not [n for n in written if not n.startswith(".")], written
    jax.jit(lambda x: x * 3 + 1).lower(jax.ShapeDtypeStruct((7,), "float32")).compile()   # the cache is live
    assert any(not p.name.startswith(".") for p in cache.glob("*"))


def test_scale_table_marks_missing_cells(tmp_path):
  spec = importlib.util.spec_from_file_location("scale_table", Path(__file__).parent.parent / "tools" / "scale_table.py")
  st = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(st)
  cell = {"fits": False, "batch": 104, "grad_cache_chunk": None, "hbm_bytes_per_chip": 2 ** 31,
          "step_seconds_roofline": 0.02, "pairs_per_second": 5200.0, "compile_seconds": 61.0}
  st.cell_path(tmp_path, "v5e:2x4", "e5-small", 100).write_text(json.dumps(cell))
  assert st.command("v5e:2x4", 8, "e5-small", 100, "x.json")[-1] == "batch.batch_size=104"
  assert "loss.grad_cache_chunk=64" in st.command("v5e:2x4", 8, "e5-small", 16384, "x.json")
  lines, done = st.table(tmp_path)
  assert done == 1
  assert "| e5-small | 100 | **no** (batch 104) | 2.00 GiB | 20.0 ms | 5,200 | 61 |" in lines
  assert sum("not yet computed" in line for line in lines) == 99
  # the GPU section plans with --gpu and the memory share tools/launch_gpu.sh gives JAX
  assert st.command("h100x8", 8, "labse", 100, "x.json")[4:6] == ["--gpu", "h100x8"]
  assert "### 8x H100 80GB (`--gpu h100x8`, 8 GPUs)" in lines


def test_not_fitting_is_one_line_exit_1_and_the_json_says_so(tiny, tmp_path, capsys):
  out = tmp_path / "plan.json"
  rc, stdout, err = _plan(["--topology", "cpu", "--model-config", tiny, "--no-encode", "--hbm-bytes", "1000",
                           "--json", str(out)] + CPU_PEAKS + SMALL, capsys)
  assert rc == 1 and stdout == ""
  assert len(err.strip().splitlines()) == 1 and "does not fit" in err and "0.00 MiB available" in err
  r = json.loads(out.read_text())
  assert r["fits"] is False and r["hbm_capacity_bytes"] == 1000 and "encode" not in r


def test_fit_says_which_knob_when_nothing_fits(tiny, tmp_path, capsys):
  out = tmp_path / "fit.json"
  rc, stdout, err = _plan(["--topology", "cpu", "--model-config", tiny, "--fit", "--hbm-bytes", "1000",
                           "--chunk-per-device", "2", "--json", str(out)] + CPU_PEAKS + SMALL, capsys)
  assert rc == 1 and "largest batch 0 plain, 0 with GradCache" in stdout
  assert "nothing fits" in err and "mesh.model" in err
  r = json.loads(out.read_text())
  assert r["plain"]["batch"] == 0 and r["grad_cache"]["batch"] == 0 and r["grad_cache"]["chunk"] == 2


def test_largest_fitting_doubles_then_bisects(monkeypatch):
  tried = []

  def fake(cfg, t, enc, encode=False, **kw):
    b = cfg.batch.batch_size
    tried.append((b, cfg.loss.grad_cache_chunk, cfg.batch.pack))
    return {"fits": b <= 44, "hbm_bytes_per_chip": b}

  monkeypatch.setattr(plan, "plan", fake)
  cfg = config_lib.build()
  b, r = plan.largest_fitting(cfg, None, None, 4, 1024)
  assert b == 44 and r["fits"] and all(x % 4 == 0 for x, _, _ in tried)
  assert [x for x, _, _ in tried][:5] == [4, 8, 16, 32, 64]
  tried.clear()
  assert plan.largest_fitting(cfg, None, None, 8, 1024, grad_cache_chunk=8)[0] == 40
  assert all(gc == 8 and pack is True for _, gc, pack in tried)      # GradCache runs on the packed rows it is given
  assert plan.largest_fitting(cfg, None, None, 4, 16)[0] == 16       # capped by the limit
  monkeypatch.setattr(plan, "plan", lambda *a, **k: {"fits": False})
  assert plan.largest_fitting(cfg, None, None, 4, 1024)[0] == 0


def test_batch_shapes_padded_and_packed(monkeypatch):
  class Mesh:
    shape = {"data": 4, "model": 1}
    devices = [[type("D", (), {"process_index": h})()] for h in (0, 0, 1, 1)]
  cfg = config_lib.build(overrides=["batch.batch_size=8", "batch.pack=false", "data.hard_negatives=2"])
  s = plan.batch_shapes(cfg, Mesh(), 2)
  assert s["query_ids"] == (8, 64) and s["passage_mask"] == (8, 128) and s["negative_ids"] == (16, 128)
  cfg = config_lib.build(overrides=["batch.batch_size=8", "data.hard_negatives=1"])
  s = plan.batch_shapes(cfg, Mesh(), 2, query_tokens=64, passage_tokens=128)
  # per host 4 queries (two per 128-token row) + 4 passages + 4 negatives -> 10 rows, a row bucket and a
  # multiple of the host's 2 data shards; 2 hosts -> 20 global rows
  assert s["packed_ids"] == (20, 128) and s["query_slot"] == (8,) and s["negative_slot"] == (8,)
  with pytest.raises(JaxirError, match="multiple of the 4 devices"):
    plan.batch_shapes(config_lib.build(overrides=["batch.batch_size=6"]), Mesh(), 2)
  with pytest.raises(JaxirError, match="--query-tokens=100 must be in 2..64"):
    plan.batch_shapes(cfg, Mesh(), 2, query_tokens=100)


def test_known_configs_build_encoders():
  import jax
  from jaxir.model.encoder import Encoder
  from jaxir.model.known_configs import KNOWN, known_config
  from jaxir.train.state import init_params
  sizes = {}
  for name in KNOWN:
    enc = EncoderConfig.from_hf(known_config(name), name)
    params = jax.eval_shape(lambda: init_params(Encoder(enc)))
    sizes[name] = sum(x.size for x in jax.tree.leaves(params)) / 1e6
  assert 117 < sizes["e5-small"] < 119 and 277 < sizes["xlm-roberta-base"] < 279
  assert 558 < sizes["xlm-roberta-large"] < 560 and 469 < sizes["labse"] < 472   # without the BERT pooler
  assert known_config("multilingual-e5-small") == known_config("e5-small")


E5 = ["--model-config", "e5-small"]


@pytest.mark.parametrize("args, message", [
    (["--topology", "v9:2x2"] + E5, "unknown topology 'v9:2x2'"),
    (["--topology", "cpu", "--gpu", "h100x8"] + E5, "give one of --topology"),
    (["--gpu", "h100x3x"] + E5, "unknown --gpu"),
    (["--topology", "cpu", "--model-config", "no-such-model"], "unknown model config 'no-such-model'"),
    (["--topology", "cpu", "--model-config", "/nonexistent/config.json"], "no file /nonexistent/config.json"),
    (["--topology", "cpu", "--model-config", "BAD"], "unsupported model_type 'gpt2'"),
    (["--topology", "cpu", "--hbm-bytes", "-1"] + E5, "--hbm-bytes must be a positive number"),
    (["--topology", "cpu", "--fit", "--chunk-per-device", "0"] + E5, "--chunk-per-device must be positive"),
    (["--topology", "cpu", "batch.batch_sise=8"] + E5, "unknown config key 'batch.batch_sise'"),
    (["--topology", "cpu"], "model.name 'runs/e5-small' has no config.json"),
])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path, capsys, monkeypatch):
  monkeypatch.chdir(tmp_path)
  bad = tmp_path / "bad.json"
  bad.write_text(json.dumps({"model_type": "gpt2"}))
  args = [str(bad) if a == "BAD" else a for a in args]
  rc, stdout, err = _plan(args + CPU_PEAKS, capsys)
  assert rc == 2 and stdout == ""
  assert len(err.strip().splitlines()) == 1 and err.startswith("jaxir plan: error: ") and message in err


def test_gpu_refuses_with_the_reason(capsys, monkeypatch):
  if HAS_CUDA_PLUGIN:       # what jax says where no plugin registers the 'cuda' topology
    from jax.experimental import topologies

    def no_cuda(*args, **kwargs):
      raise NotImplementedError("topology not implemented for cuda")
    monkeypatch.setattr(topologies, "get_topology_desc", no_cuda)
  rc, _, err = _plan(["--gpu", "h100x8", "--model-config", "e5-small"], capsys)
  assert rc == 2 and len(err.strip().splitlines()) == 1
  assert "CUDA PJRT plugin" in err and "target_config" in err


@pytest.mark.skipif(not HAS_CUDA_PLUGIN, reason="the CUDA plugin is not installed (pip install -r requirements-gpu-plan.txt)")
def test_tiny_encoder_compiles_for_h100x8(tiny, tmp_path, capsys, monkeypatch):
  monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION", raising=False)
  out = tmp_path / "plan.json"
  rc, stdout, _ = _plan(["--gpu", "h100x8", "--model-config", tiny, "--json", str(out)] + SMALL, capsys)
  assert rc == 0 and stdout.startswith("plan: h100x8 (8 chips, 1 host, mesh 8x1)")
  r = json.loads(out.read_text())
  assert r["fits"] and r["kind"] == "h100" and r["dtype"] == "bfloat16" and r["memory_fraction"] == 0.75
  assert r["hbm_capacity_bytes"] == int(84942979072 * 0.75)        # the device's memory x JAX's allocator share
  m = r["memory"]
  assert r["hbm_bytes_per_chip"] == m["argument_bytes"] + m["temp_bytes"] + m["output_bytes"] - m["alias_bytes"] > 0
  # the cost analysis of the optimized GPU module: at least the encoder's matmul FLOPs of one device's share
  tokens = r["tokens_per_step"] / 8
  assert r["flops_per_step"] > 2 * tokens * (4 * 16 * 16 + 2 * 16 * 32) and r["bytes_per_step"] > 0
  assert r["cost_source"] in ("xla", "hlo module, on the host")
  # peak: NVIDIA's dense bf16 figure; bandwidth: XLA's H100 spec (the target config the compile used)
  assert r["step_seconds_roofline"] == pytest.approx(max(r["flops_per_step"] / 989e12, r["bytes_per_step"] / 3.35232e12))
  assert r["collectives"]["all-reduce"] > 0 or r["collectives"]["reduce-scatter"] > 0   # gradients over 8 GPUs
  assert r["encode"]["fits"] and r["encode"]["rows"] % 8 == 0
  t = plan.target(gpu="a100x16")                                    # two hosts of 8
  assert (t.chips, t.hosts, len(t.devices), t.kind) == (16, 2, 16, "a100")
  with pytest.raises(JaxirError, match="neither one host"):
    plan.target(gpu="h100x12")
  monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.9")
  assert plan.target(gpu="h200x1").hbm_bytes == int(151397597184 * 0.9)
  monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", "lots")
  with pytest.raises(JaxirError, match="must be a number in"):
    plan.target(gpu="h200x1")


@pytest.mark.skipif(not HAS_LIBTPU, reason="libtpu is not installed (pip install -r requirements-tpu.txt)")
def test_tiny_encoder_compiles_for_v5e_2x2(tiny, tmp_path, capsys):
  out = tmp_path / "plan.json"
  rc, stdout, _ = _plan(["--topology", "v5e:2x2", "--model-config", tiny, "--json", str(out)] + SMALL, capsys)
  assert rc == 0 and stdout.startswith("plan: v5e:2x2 (4 chips, 1 host, mesh 4x1)")
  r = json.loads(out.read_text())
  assert r["fits"] and r["kind"] == "v5e" and r["dtype"] == "bfloat16" and r["hbm_capacity_bytes"] == 16 * 2 ** 30
  assert r["peak_flops_per_chip"] == 197e12 and r["flops_per_step"] > 0 and r["hbm_bytes_per_chip"] > 0
  assert r["collectives"]["all-reduce"] > 0 or r["collectives"]["reduce-scatter"] > 0   # gradients over 4 chips
  assert r["encode"]["fits"] and r["encode"]["rows"] % 4 == 0
  # a multi-host slice: the topology describes every chip and host
  t = plan.target("v5e:8x8")
  assert (t.chips, t.hosts, len(t.devices)) == (64, 16, 64)
  with pytest.raises(JaxirError, match="libtpu cannot describe it"):
    plan.target("v5e:3x7")


def test_grad_cache_adds_the_chunks_xla_counts_once():
  cfg = config_lib.build(overrides=["loss.grad_cache_chunk=8", "batch.pack=false"])
  enc = EncoderConfig.from_hf(TINY)
  one = {"query_ids": (8, 16), "passage_ids": (8, 32)}
  assert plan.grad_cache_loop_cost(cfg, enc, one, 4, 1)["flops"] == 0       # one chunk: XLA counted it
  four = {"query_ids": (32, 16), "passage_ids": (32, 32), "negative_ids": (64, 32)}
  r = plan.grad_cache_loop_cost(cfg, enc, four, 4, 1)
  assert r["flops"] > 0 and r["bytes"] > 0
  assert plan.grad_cache_loop_cost(cfg, enc, four, 8, 2)["flops"] == pytest.approx(r["flops"] / 2)
  # Packed: the rows are cut into batch / chunk = 4 chunks whatever their count; 3 are added, of 40 / 4 rows each.
  packed = {"packed_ids": (40, 32), "query_slot": (32,), "passage_slot": (32,)}
  p = plan.grad_cache_loop_cost(cfg, enc, packed, 4, 1)
  per_row = plan.grad_cache_loop_cost(cfg, enc, {"passage_ids": (16, 32)}, 4, 1)["flops"]     # 1 extra chunk of 8 rows
  assert p["flops"] == pytest.approx(3 * per_row * 10 / 8) and p["bytes"] == pytest.approx(r["bytes"] * 3 / 13)   # 3 + 3 + 7 loops padded


def test_a_step_xla_refuses_for_lack_of_hbm_does_not_fit():
  msg = ("jax.errors.JaxRuntimeError: RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for"
         " HLO temporaries (20.86G) exceeds available HBM (15.75G).")
  fig = plan._out_of_memory(msg)
  assert fig["hbm_bytes_per_chip"] == int(20.86 * 2 ** 30) and "RESOURCE_EXHAUSTED" in fig["out_of_memory"]
  assert plan._roofline(fig, None)["step_seconds_roofline"] is None
