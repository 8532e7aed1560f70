"""TensorFlow Datasets builders for XQuAD-R and MLQA-R (offline, from a manual dir).

One BuilderConfig per language (its name is the language code). XQuAD-R has one split, `test`;
MLQA-R has `validation` (its source is the MLQA dev set). Each example is one question:

  question, id (parallel id, shared by translations), lang, title, context,
  sentences (the paragraph's sentences), answer_sentence (index into `sentences` of the
  sentence whose span contains answers[0].answer_start; the rule of `squad_r.parse_r`).

The manual dir holds `<lang>.json` (or `<benchmark>/<lang>.json`): the shared data dir works
as is. Online users may instead download the public files (pinned URLs, sha256-checked).
Importing this module hides GPUs from TensorFlow: TF only reads data here.
"""
import os
import socket
import urllib.parse
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxir.data import sources
from jaxir.data import squad_r
from jaxir.errors import JaxirError

try:  # TF must not claim accelerator memory that JAX needs.
  tf.config.set_visible_devices([], "GPU")
except (RuntimeError, ValueError):  # devices already initialised: nothing to hide any more
  pass

_LAREQA = "https://raw.githubusercontent.com/google-research-datasets/lareqa"
# Public sources, pinned by sha256 and size (the shared data dir holds these very files).
# MLQA-R was removed from the repository later, so it is read at the last commit that had it.
_SOURCES = {
    "xquad-r": (f"{_LAREQA}/master/xquad-r/{{lang}}.json", {
        "ar": (2234875, "c52922d3b8ac1ae03ed5ac38647ad59870dca3dda2beefe18ecdc30729acb69d"),
        "de": (732156, "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949"),
        "el": (2810127, "163fd43ee785a30eb534ae2061e9eaa766a7ee4e8ffce5e4b422480c150f64b6"),
        "en": (628651, "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe"),
        "es": (746335, "f8e836b2d91009c4363e04315f7ede363eedbbb49c67dda60de6c4aa782f58de"),
        "hi": (2408404, "ea45ba8ae4513d1533b222bebdc02a90bc319c055d3aeea68584a053d2e92872"),
        "ru": (2764904, "7f4dff853538b9a5fcc28c070b8bb983a5c5d190ac747b8e005a1ada9cab18f1"),
        "th": (2618544, "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4"),
        "tr": (827827, "f3e8c13002bbce154a4578f535f7533cb70f3da08840e6b62735935baec7bd94"),
        "vi": (1132303, "e35926bf5cc6fc6ecbdfca49467aabeb454f08d152d7818143a906bd31dde995"),
        "zh": (959291, "80c2cde7b9c2fb134c303cbb52f2ba396ead9eb0014aec43993543d2ba9e93ed"),
    }),
    "mlqa-r": (f"{_LAREQA}/354d67d1cd066854cdfbf5ad0e6105528976141d/mlqa-r/{{lang}}.json", {
        "ar": (3329081, "2132fbc03208535c0fe01f2e2c5121d06f9c2aa799af93b0a719dbc105bdf137"),
        "de": (887185, "ce9454dc5aa6f2d85c23cd6e49cb367fbb7c4c6e62d7f71e355c6b5dae4d0886"),
        "en": (2251129, "fedd9a5cc0848dda80caf84aa36f482adaae230526a3f6e9e86926a93ef3b1e4"),
        "es": (819818, "70ecba276b8c96a692b120693a595d076ce94ad21d4b28311538a9fcbfe0f9d7"),
        "hi": (3179023, "4dd0fb3c06f737a5481d705bc1dcac7876712a5815c9265908fbb3a0696cb654"),
        "vi": (1807239, "9d3baff6ba03e6793b25594217265ea59a136b9733833dca8a9582a84a78ff85"),
        "zh": (1360698, "57f01d2fff50cf3392805635b01445339f225ad5bf28ba8443b12f8dbd1e69dc"),
    }),
}
SPLITS = {"xquad-r": "test", "mlqa-r": "validation"}


def source_url(benchmark, lang):
  return _SOURCES[benchmark][0].format(lang=lang)


def _url_infos(benchmark):
  return {source_url(benchmark, l): tfds.core.download.checksums.UrlInfo(size, sha, f"{benchmark}-{l}.json")
          for l, (size, sha) in _SOURCES[benchmark][1].items()}


def paragraph_examples(corpus):
  """Yields one example dict per question of an `RCorpus`, in file order."""
  n = len(corpus.contexts)
  counts = np.bincount(np.asarray(corpus.candidate_context, dtype=np.int64), minlength=n)
  first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int) if n else []
  for q in corpus.questions:
    c = corpus.candidate_context[q.answer]
    start, count = int(first[c]), int(counts[c])
    yield {
        "question": q.text, "id": q.id, "lang": q.lang, "title": q.title,
        "context": corpus.contexts[c],
        "sentences": corpus.candidates[start:start + count],
        "answer_sentence": q.answer - start,
    }


def _find_manual(manual_dir, benchmark, lang):
  for cand in (manual_dir / f"{lang}.json", manual_dir / benchmark / f"{lang}.json"):
    if cand.is_file():
      return cand
  return None


class _RBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Shared code: one question per example, read with `squad_r.parse_r`."""
  BENCHMARK = None
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  HOMEPAGE = "https://github.com/google-research-datasets/lareqa"
  CITATION = """@inproceedings{roy-etal-2020-lareqa,
  title = {{LAReQA}: Language-Agnostic Answer Retrieval from a Multilingual Pool},
  author = {Roy, Uma and Constant, Noah and Al-Rfou, Rami and Barua, Aditya and Phillips, Aaron and Yang, Yinfei},
  booktitle = {Proceedings of EMNLP 2020},
  year = {2020}}"""

  def _info(self):
    return self.dataset_info_from_configs(
        description=self.__doc__,
        features=tfds.features.FeaturesDict({
            "question": tfds.features.Text(),
            "id": tfds.features.Text(),
            "lang": tfds.features.Text(),
            "title": tfds.features.Text(),
            "context": tfds.features.Text(),
            "sentences": tfds.features.Sequence(tfds.features.Text()),
            "answer_sentence": np.int32,
        }),
        supervised_keys=None,
        disable_shuffling=True,  # examples keep the file order (the order of squad_r.parse_r)
        homepage=self.HOMEPAGE,
        citation=self.CITATION,
    )

  def _split_generators(self, dl_manager):
    lang = self.builder_config.name
    try:
      path = _find_manual(Path(dl_manager.manual_dir), self.BENCHMARK, lang)
    except AssertionError:  # no manual dir: the online path
      path = None
    if path is None:
      path = Path(dl_manager.download(source_url(self.BENCHMARK, lang)))
    return {SPLITS[self.BENCHMARK]: self._generate_examples(path, lang)}

  def _generate_examples(self, path, lang):
    corpus = squad_r.read_r_file(path, lang)
    for i, example in enumerate(paragraph_examples(corpus)):
      yield i, example


def _configs(langs):
  return [tfds.core.BuilderConfig(name=l, description=f"language {l}") for l in langs]


class XquadR(_RBuilder):
  """XQuAD-R: 240 XQuAD paragraphs with sentence breaks, 1190 questions, 11-way parallel (held-out test set)."""
  BENCHMARK = "xquad-r"
  BUILDER_CONFIGS = _configs(squad_r.XQUAD_R_LANGS)
  MANUAL_DOWNLOAD_INSTRUCTIONS = "Place the XQuAD-R files `<lang>.json` (lareqa `xquad-r/`) in the manual dir."
  url_infos = _url_infos("xquad-r")


class MlqaR(_RBuilder):
  """MLQA-R: the MLQA dev set with sentence breaks; ids shared by 2-4 languages (training / development)."""
  BENCHMARK = "mlqa-r"
  BUILDER_CONFIGS = _configs(squad_r.MLQA_R_LANGS)
  MANUAL_DOWNLOAD_INSTRUCTIONS = "Place the MLQA-R files `<lang>.json` (lareqa `mlqa-r/` @354d67d) in the manual dir."
  url_infos = _url_infos("mlqa-r")


BUILDERS = {"xquad-r": XquadR, "mlqa-r": MlqaR}


def tfds_root(tfds_dir=None):
  """Where built datasets are cached: `tfds_dir`, else `$JAXIR_TFDS_DIR`, else ~/.cache/jaxir/tfds."""
  return Path(tfds_dir or os.environ.get("JAXIR_TFDS_DIR") or "~/.cache/jaxir/tfds").expanduser()


def _download_error(url, e):
  if isinstance(e, tfds.core.download.download_manager.NonMatchingChecksumError):
    return JaxirError(f"{url} does not match its pinned sha256 (the public file changed?); "
                      "pass --data-dir DIR or set JAXIR_DATA to a folder with the original files")
  reason = " ".join(str(e).split())[:160] or "no details"
  return JaxirError(f"could not download {url} ({type(e).__name__}: {reason}); offline, pass --data-dir DIR "
                    "or set JAXIR_DATA to the folder with the -R files")


def _check_online(url, timeout=5.0):
  """Fails fast (one line) when the source host is unreachable, instead of minutes of retries."""
  if any(os.environ.get(k) for k in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")):
    return  # a proxy decides; let the download itself try
  parts = urllib.parse.urlsplit(url)
  try:
    socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout).close()
  except OSError as e:
    raise _download_error(url, e) from None


def prepare(benchmark, lang, data_dir=None, tfds_dir=None, download=False):
  """Builds one language of a benchmark (a no-op when already built); returns the builder.

  The files come from the data dir (`data_dir`, `$JAXIR_DATA`, ../shared/data); with
  `download=True` and no data dir, from the pinned public URLs.
  """
  (lang,) = squad_r.check_langs(benchmark, [lang])
  builder = BUILDERS[benchmark](config=lang, data_dir=str(tfds_root(tfds_dir)))
  if (Path(builder.data_dir) / "dataset_info.json").is_file():  # built (`is_prepared` logs noise)
    return builder
  try:
    manual = sources.benchmark_dir(benchmark, data_dir)
    if _find_manual(manual, benchmark, lang) is None:
      raise JaxirError(f"no {manual / f'{lang}.json'} (pass --data-dir DIR or set JAXIR_DATA)")
  except JaxirError:
    if not download:
      raise
    manual = None
  if manual is None:
    _check_online(source_url(benchmark, lang))
  config = tfds.download.DownloadConfig(
      manual_dir=None if manual is None else str(manual),
      try_download_gcs=False, force_checksums_validation=True)
  try:
    builder.download_and_prepare(download_dir=str(tfds_root(tfds_dir) / "downloads"), download_config=config)
  except (OSError, tfds.core.download.download_manager.NonMatchingChecksumError) as e:
    if manual is not None:
      raise
    raise _download_error(source_url(benchmark, lang), e) from None
  return builder


def load_tfds(benchmark, lang, data_dir=None, tfds_dir=None, download=False):
  """The `tf.data.Dataset` of one language (XQuAD-R: split `test`; MLQA-R: `validation`)."""
  builder = prepare(benchmark, lang, data_dir, tfds_dir, download)
  return builder.as_dataset(split=SPLITS[benchmark])
