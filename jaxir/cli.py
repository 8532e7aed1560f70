"""The `jaxir` console command. It only parses arguments and calls the Python API.

Each area registers its own subcommands (``register(subparsers)`` in ``jaxir/*/cli.py``);
any ``JaxirError`` becomes one line on stderr and exit status 2, and so does an ``OSError`` (a
read-only or full disk, a file where a folder should be): the path and the system's reason. Ctrl-C and
SIGTERM stop a command cleanly (locks released, partial files left for the rerun), in one line; `jaxir train`
first saves a checkpoint of the step it is at (`jaxir.train.trainer`).
"""
import _thread
import argparse
import contextlib
import importlib
import importlib.util
import os
import signal
import sys
import threading

from jaxir.errors import JaxirError, Stopped

# Modules that register subcommands, in the order of the data flow.
_AREAS = ("jaxir.data.cli", "jaxir.model.cli", "jaxir.model.merge", "jaxir.plan", "jaxir.train.cli", "jaxir.launch",
          "jaxir.encode_cli", "jaxir.export_cli", "jaxir.eval.cli", "jaxir.sweep.cli", "jaxir.report.cli")


def build_parser():
  import jaxir
  parser = argparse.ArgumentParser(prog="jaxir", description=__doc__.splitlines()[0])
  parser.add_argument("--version", action="version", version=f"jaxir {jaxir.version()}")
  sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
  for name in _AREAS:
    importlib.import_module(name).register(sub)
  return parser


def main(argv=None):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")   # tf.data only; also silences its start-up notice
  if importlib.util.find_spec("tf_keras") is None:       # jaxir never uses tf.keras: with no tf_keras installed,
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")    # TF skips importing Keras (~40% of its import time)
  parser = build_parser()
  args = parser.parse_args(argv)
  try:
    with sigterm_stops():
      result = args.func(args)
  except JaxirError as e:
    print(f"jaxir {args.command}: error: {e}", file=sys.stderr)
    return 2
  except OSError as e:       # read-only or full disk, a file where a folder should be: what failed, where
    print(f"jaxir {args.command}: error: {os_error(e)}", file=sys.stderr)
    return 2
  except Stopped as e:
    print(f"jaxir {args.command}: {e}; finished work is kept, rerun to resume", file=sys.stderr)
    return 128 + signal.SIGTERM
  except KeyboardInterrupt:
    print(f"jaxir {args.command}: interrupted; finished work is kept, rerun to resume", file=sys.stderr)
    return 130
  return 0 if result is None else int(result)


class _Redelivery:
  """A stop that Python dropped, sent again until a handler raises it where it is not dropped (`_deliver_again`)."""
  lock = threading.Lock()
  pending = None               # the signal number to send again, or None
  thread = None                # the thread sending it, while there is one
  in_hook = False              # the main thread is inside the hook: a handler must not raise there


def _stop_handler(make):
  def handle(signum, frame):
    if _Redelivery.in_hook:    # raised here it would be dropped once more: the signal stays pending instead
      return
    _Redelivery.pending = None
    raise make()
  return handle


_raise_stopped = _stop_handler(lambda: Stopped("stopped by SIGTERM"))
_raise_interrupt = _stop_handler(KeyboardInterrupt)


def _send_again():
  """Marks the pending signal again every 10 ms (`_thread.interrupt_main`: its handler runs where the main thread
  is then) until a handler has raised it (pending None)."""
  import time
  while True:
    time.sleep(0.01)
    with _Redelivery.lock:
      signum = _Redelivery.pending
      if signum is None:
        _Redelivery.thread = None
        return
    _thread.interrupt_main(signum)


def _deliver_again(previous_hook):
  """A `sys.unraisablehook`. Python runs a signal's handler wherever the main thread is, and an exception
  raised inside a garbage-collector callback (JAX registers one), a `__del__` or a weakref callback is
  printed and dropped: the stop would be lost and the command would run on to the end. So such a dropped
  `Stopped` (or Ctrl-C's KeyboardInterrupt) is not printed; another thread marks its signal pending again every
  10 ms until the handler has raised it outside such a callback. While the main thread is in this hook the
  handlers do not raise (they would be dropped again, and the stop lost, as once happened on a loaded machine
  while this hook started that thread); the signal stays pending for the next mark."""
  def hook(unraisable):
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
      previous_hook(unraisable)
      return
    _Redelivery.in_hook = True
    try:
      with _Redelivery.lock:
        _Redelivery.pending = signal.SIGTERM if isinstance(unraisable.exc_value, Stopped) else signal.SIGINT
        if _Redelivery.thread is None:
          _Redelivery.thread = threading.Thread(target=_send_again, daemon=True)   # never holds the process open
          _Redelivery.thread.start()
    finally:
      _Redelivery.in_hook = False
  return hook


@contextlib.contextmanager
def sigterm_stops():
  """While inside: SIGTERM raises `Stopped` (as Ctrl-C raises KeyboardInterrupt) instead of killing the process
  on the spot, and neither is lost where Python drops exceptions (`_deliver_again`). Only the main thread can
  set a signal handler; elsewhere this does nothing."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous_hook = sys.unraisablehook
  previous = signal.signal(signal.SIGTERM, _raise_stopped)
  previous_int = signal.getsignal(signal.SIGINT)
  if previous_int is signal.default_int_handler:     # Ctrl-C as Python has it, made safe in the hook; an ignored
    signal.signal(signal.SIGINT, _raise_interrupt)   # SIGINT (a background job's) stays ignored
  sys.unraisablehook = _deliver_again(previous_hook)
  try:
    yield
  finally:
    _Redelivery.pending = None          # a stop still pending ends with the command
    signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)   # None: set outside Python
    if previous_int is signal.default_int_handler:
      signal.signal(signal.SIGINT, previous_int)
    sys.unraisablehook = previous_hook


def os_error(e):
  """ "PATH: REASON" of an OSError (its message when it names no path)."""
  if e.filename is None or not e.strerror:
    return str(e)
  return f"{e.filename}: {e.strerror}"


if __name__ == "__main__":
  sys.exit(main())
