"""One error type for bad input: the CLI prints its message as one line and exits non-zero."""


class JaxirError(Exception):
  """A problem with the user's input or environment, reported as one clear line."""


def some(items, n=3):
  """The first `n` of `items` for a message: "a, b, c and 4 more"."""
  items = [str(i) for i in items]
  return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


class Stopped(KeyboardInterrupt):
  """A stop asked for from outside: SIGTERM (`kill`, a scheduler, a TPU VM's preemption notice). It is a
  KeyboardInterrupt so that every clean-up that handles Ctrl-C (cell locks, partial files) handles it too; the
  CLI prints its message as one line and exits 143. Finished work is kept and a rerun resumes."""
