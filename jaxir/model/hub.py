"""Hugging Face Hub repo ids: which model names stand for a Hub repo rather than a local directory."""
import re
from pathlib import Path

HUB_PREFIX = "hf:"     # `hf:ORG/NAME`: always a Hugging Face Hub repo id
LOCAL_ROOTS = ("runs",)  # a name under these folders is a local path even where the folder is missing


def _is_hub_id(name):
  """Whether `name` (no local file or directory) stands for a Hugging Face Hub repo without the `hf:` prefix:
  `org/name` or a bare legacy id (`xlm-roberta-base`). A path-like name is never one: it starts with `.`,
  `/` or `~`, has more than one `/`, or its first component is `runs` (jaxir's runs, as the default model
  `runs/e5-small`) or a local directory: else a missing run would fetch somebody else's weights."""
  if not re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", name) or ".." in name.split("/"):
    return False
  first = name.split("/")[0]
  return "/" not in name or (first not in LOCAL_ROOTS and not Path(first).is_dir())
