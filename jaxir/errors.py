"""One error type for bad input: the CLI prints its message as one line and exits non-zero."""


class JaxirError(Exception):
  """A problem with the user's input or environment, reported as one clear line."""
