"""One error type for bad input: the CLI prints its message as one line and exits non-zero."""


class JaxirError(Exception):
  """A problem with the user's input or environment, reported as one clear line."""


def some(items, n=3):
  """The first `n` of `items` for a message: "a, b, c and 4 more"."""
  items = [str(i) for i in items]
  return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")
