"""Checkpoints with orbax: train state (params, optimizer, step, rng) plus a small JSON of the run's
position (the next data step; the data order is a pure function of (seed, step), so that is all
the input pipeline needs to resume). Keeps the last N; asynchronous on accelerators.
"""
import jax
import orbax.checkpoint as ocp


class Checkpoints:
  def __init__(self, directory, keep=2):
    asynchronous = jax.default_backend() != "cpu"
    self.manager = ocp.CheckpointManager(
        directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=asynchronous))

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, step, state, position):
    self.manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                         position=ocp.args.JsonSave(position)))

  def restore(self, abstract_state, step=None):
    """(state, position) of `step` (default: the latest), laid out like `abstract_state`."""
    step = self.latest_step() if step is None else step
    restored = self.manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), position=ocp.args.JsonRestore()))
    return restored.state, restored.position

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.wait_until_finished()
    self.manager.close()
