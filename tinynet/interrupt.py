"""Ctrl-C as a request, not an accident: finish the step, save, then stop.

Python turns Ctrl-C (SIGINT) into a ``KeyboardInterrupt`` wherever the program happens to be —
possibly in the middle of ``optimizer.step()``, with half of the weights updated. Inside
``with StopRequest() as stop:`` the first Ctrl-C only sets ``stop.requested``; the training loop
asks ``stop()`` between two steps and stops there, in a state that can be saved and resumed
exactly. Further Ctrl-Cs (say, while the checkpoint is being written) print a short note and are
otherwise ignored, so they can neither lose the checkpoint nor end in a traceback.

    with StopRequest() as stop:
        fit(..., should_stop=stop)          # raises TrainingInterrupted after the step in progress
"""
import signal
import sys
import threading

__all__ = ["StopRequest"]


class StopRequest:
    """A context manager catching SIGINT (in the main thread only; elsewhere it does nothing)."""

    def __init__(self, stream=None, note="stopping after the step in progress (the checkpoint is being saved)"):
        self.requested, self.stream, self.note = False, stream, note
        self._previous = None

    def __call__(self):
        """True once Ctrl-C has been pressed."""
        return self.requested

    def _handle(self, signum, frame):
        if self.requested:
            print(f"\n{self.note}; please wait", file=self.stream or sys.stderr, flush=True)
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False
