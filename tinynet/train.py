"""The training loop: ``fit``, ``evaluate``, checkpoints and a progress bar.

    history = fit(model, optimizer, train_loader, test_loader, epochs=2)
    result = evaluate(model, test_loader)        # {"loss", "accuracy", "predictions", "labels"}
    save_checkpoint("runs/cnn/checkpoint.npz", model, optimizer, epoch=2, model_name="cnn")
    ckpt = load_checkpoint("runs/cnn/checkpoint.npz"); model.load_state_dict(ckpt["model"])
    model, ckpt = load_model("runs/cnn/checkpoint.npz")     # built, checked and loaded (tinynet/checkpoints.py)

One step is the five lines every framework shares:
``optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); optimizer.step()`` —
plus a check that the loss has not diverged: a NaN or ∞, or a loss more than 1000 times its first
value, stops training at once with ``DivergenceError`` naming the step (the usual cause is a
learning rate that is too high).

``history`` is a list with one dict per finished epoch (JSON-ready): ``epoch``, ``train_loss``
(mean over the epoch's batches), ``train_accuracy``, ``test_loss``, ``test_accuracy``,
``seconds`` and ``samples_per_second``. Checkpoints also store tinynet's random-generator state,
so training resumed from an end-of-epoch checkpoint draws the same dropout masks and
augmentations, in the same order, as the uninterrupted run.
"""
import contextlib
import json
import math
import sys
import time

from . import backend, functional as F, parallel, random
from .checkpoints import CHECKPOINT_FORMAT, load_checkpoint, load_model
from .serialization import save
from .tensor import no_grad

__all__ = ["fit", "train_epoch", "evaluate", "DivergenceError", "NonFiniteLossError", "DivergenceCheck",
           "TrainingInterrupted", "new_position", "save_checkpoint", "load_checkpoint", "load_model", "Progress",
           "CHECKPOINT_FORMAT"]


DIVERGENCE_FACTOR = 1000     # a loss this many times its first value (at least 1) has diverged


class DivergenceError(FloatingPointError):
    """The training loss became NaN or ∞, or grew beyond ``DIVERGENCE_FACTOR`` × its first value."""


NonFiniteLossError = DivergenceError     # the older name


class DivergenceCheck:
    """Watches the loss of every step: stops training when it is NaN or ∞, or when
    |loss| > DIVERGENCE_FACTOR · max(|first loss|, 1). A run that blows up without overflowing
    (Adam at lr 10⁶ reaches 10²³) stops too; the floor of 1 keeps a run resumed at a tiny loss
    from being stopped by an ordinary batch."""

    def __init__(self, factor=DIVERGENCE_FACTOR):
        self.factor, self.first = factor, None

    def __call__(self, value, epoch, step, steps, lr):
        if self.first is None and math.isfinite(value):
            self.first = value
        limit = self.factor * max(abs(self.first or 0.0), 1.0)
        if math.isfinite(value) and abs(value) <= limit:
            return
        why = "" if not math.isfinite(value) else f", more than {self.factor:g} times its first value {self.first:.4g}"
        raise DivergenceError(
            f"the training loss became {value:.4g}{why} at epoch {epoch}, step {step} of {steps}: training "
            f"has diverged. Try a lower learning rate (this run used lr={lr}; try {lr / 10:g})")


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` stopped between two steps because ``should_stop()`` asked it to. ``position`` is
    where (``new_position``'s keys): save it with the checkpoint to continue exactly there."""

    def __init__(self, position):
        super().__init__(position)
        self.position = position


def _argmax(logits):
    return backend.to_numpy(logits.data.argmax(axis=1))


def new_position(epoch):
    """Where training stands at the start of ``epoch``: no step done, empty running sums."""
    return {"epoch": epoch, "step": 0, "loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}


def train_epoch(model, optimizer, loader, loss_fn=F.cross_entropy, epoch=1, progress=None, position=None,
                should_stop=None, check=None, workers=None):
    """One pass over ``loader``: returns ``{"train_loss", "train_accuracy", "samples", "seconds"}``.

    ``position`` (a dict from ``new_position``, updated in place after every step) holds the
    steps done and the running sums, so an epoch can continue where it stopped: ``fit`` starts the
    loader at ``position["step"]``. ``should_stop()`` is asked after every step; when it says
    True, ``TrainingInterrupted`` is raised there, between two steps, with the position.
    ``check``: a ``DivergenceCheck`` shared by the epochs of a run (default: a new one).
    ``workers``: a ``parallel.Workers`` of ``model`` to split every step over (None: this thread).
    """
    check = DivergenceCheck() if check is None else check
    if workers is not None and not isinstance(workers, parallel.Workers):
        raise TypeError(f"train_epoch: workers must be a parallel.Workers of the model or None, got {workers!r} "
                        "(fit takes a number)")
    model.train()
    pos = new_position(epoch) if position is None else position
    start = time.perf_counter() - pos["seconds"]
    if progress is not None:
        progress.done = pos["seen"]
    correct = 0          # right answers of this call, summed on the device; to the host once, at the end
    for x, y in loader:
        step = pos["step"] + 1
        optimizer.zero_grad()
        if workers is None:
            logits = model(x)
            loss = loss_fn(logits, y)
            value = loss.item()
            check(value, epoch, step, len(loader), optimizer.param_groups[0].get("lr"))
            loss.backward()
            right = (logits.data.argmax(axis=1) == y.data).sum()       # counted on the device
        else:               # forward and backward of each part on its worker; the batch's gradient in .grad
            value, predicted = workers.forward_backward(x, y, loss_fn)  # (workers run on NumPy only)
            check(value, epoch, step, len(loader), optimizer.param_groups[0].get("lr"))
            right = (predicted == y.data).sum()
        optimizer.step()
        n = len(y)
        pos["loss_sum"] += value * n
        correct = correct + right
        pos["seen"] += n
        pos["step"], pos["seconds"] = step, time.perf_counter() - start
        if progress is not None:
            progress.update(n, loss=pos["loss_sum"] / pos["seen"])
        if should_stop is not None and should_stop():
            pos["correct"] += int(correct)
            raise TrainingInterrupted(pos)
    pos["correct"] += int(correct)
    if progress is not None:
        progress.close()
    pos["seconds"] = time.perf_counter() - start
    seen = max(pos["seen"], 1)
    return {"train_loss": pos["loss_sum"] / seen, "train_accuracy": pos["correct"] / seen,
            "samples": pos["seen"], "seconds": pos["seconds"]}


def evaluate(model, loader, loss_fn=F.cross_entropy, should_stop=None, workers=1):
    """Mean loss and accuracy of ``model`` (in eval mode, no graph) over ``loader``, plus every
    prediction: ``{"loss", "accuracy", "samples", "predictions", "labels"}`` (NumPy int arrays).
    ``should_stop()``, asked after every batch, ends it early with ``TrainingInterrupted``.
    ``workers``: threads each batch is split over (a number, or a ``parallel.Workers`` of ``model``)."""
    was_training = model.training
    model.eval()
    total_loss, predictions, labels = 0.0, [], []
    try:
        with _workers(model, workers) as split, no_grad():
            for x, y in loader:
                if split is None:
                    logits = model(x)
                    total_loss += loss_fn(logits, y, reduction="sum").item()
                    predictions.append(_argmax(logits))
                else:
                    loss_sum, predicted = split.evaluate_batch(x, y, loss_fn)
                    total_loss += loss_sum
                    predictions.append(predicted)
                labels.append(backend.to_numpy(y.data))
                if should_stop is not None and should_stop():
                    raise TrainingInterrupted(None)
    finally:
        model.train(was_training)
    np = backend.get_module("numpy")
    predictions = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    n = len(labels)
    return {"loss": total_loss / max(n, 1), "accuracy": float((predictions == labels).mean()) if n else 0.0,
            "samples": n, "predictions": predictions, "labels": labels}


def fit(model, optimizer, train_loader, test_loader=None, epochs=1, loss_fn=F.cross_entropy,
        start_epoch=0, history=None, progress=True, on_epoch_end=None, log=print, scheduler=None,
        position=None, should_stop=None, workers=1):
    """Train for epochs ``start_epoch + 1 … epochs``; return ``history`` (one dict per epoch).

    ``history`` (a list) is appended to in place, so after an exception (Ctrl-C, a NaN loss) it
    still holds every finished epoch. After each epoch the test set is evaluated (when
    ``test_loader`` is given), the ``scheduler`` (from ``tinynet.optim.lr_scheduler``) is stepped
    (each record notes the ``lr`` its epoch used), a one-line summary goes to ``log`` and
    ``on_epoch_end(record, evaluation)`` is called — the place to save a checkpoint. ``progress``:
    show a progress bar on stderr (a ``Progress``-like factory, True for the default one, False
    for none).

    Stopping between two steps: when ``should_stop()`` says True (asked after every training step
    and evaluation batch), ``TrainingInterrupted`` is raised; its ``position`` (the epoch, the
    steps done in it and the running sums) saved with the model, optimizer and generator state
    lets ``fit(..., start_epoch=position["epoch"] - 1, position=position)`` continue exactly as if
    it had never stopped — bit for bit when the training loader is seeded (its order is then a
    function of the epoch alone). An interrupt during evaluation gives the position after the
    epoch's last step: resuming evaluates, without training the epoch again.

    ``workers``: split every training step and evaluation batch over this many threads, each
    with its own replica of the model (``tinynet.parallel``: data parallelism; the gradients equal
    one worker's up to float round-off). 1 (the default) runs everything in this thread.
    """
    with _workers(model, workers) as split:
        return _fit(model, optimizer, train_loader, test_loader, epochs, loss_fn, start_epoch, history, progress,
                    on_epoch_end, log, scheduler, position, should_stop, split)


@contextlib.contextmanager
def _workers(model, workers):
    """A ``parallel.Workers`` for ``workers`` > 1 (closed on leaving), one given as it is, or None for 1."""
    if isinstance(workers, parallel.Workers):
        yield workers
    elif parallel.check_workers(workers) == 1:
        yield None
    else:
        with parallel.Workers(model, workers) as made:
            yield made


def _fit(model, optimizer, train_loader, test_loader, epochs, loss_fn, start_epoch, history, progress,
         on_epoch_end, log, scheduler, position, should_stop, workers):
    history = [] if history is None else history
    make_bar = Progress if progress is True else (progress or None)
    check = DivergenceCheck()
    for epoch in range(start_epoch + 1, epochs + 1):
        pos = position if position is not None and position["epoch"] == epoch else new_position(epoch)
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch - 1, **({"start_batch": pos["step"]} if pos["step"] else {}))
        elif pos["step"]:
            raise ValueError("fit: continuing an epoch at a step needs a loader with set_epoch(epoch, start_batch)")
        bar = make_bar(len(train_loader.dataset), f"epoch {epoch}/{epochs}") if make_bar else None
        lr = optimizer.param_groups[0]["lr"]
        record = {"epoch": epoch, "lr": lr,
                  **train_epoch(model, optimizer, train_loader, loss_fn, epoch, bar, pos, should_stop, check,
                                workers)}
        record["samples_per_second"] = record["samples"] / max(record["seconds"], 1e-9)
        evaluation = None
        if test_loader is not None:
            try:
                evaluation = evaluate(model, test_loader, loss_fn, should_stop, workers or 1)
            except TrainingInterrupted:
                raise TrainingInterrupted(pos) from None
            record["test_loss"], record["test_accuracy"] = evaluation["loss"], evaluation["accuracy"]
        if scheduler is not None:
            scheduler.step()
        history.append(record)
        if log:
            log(format_epoch(record, epochs))
        if on_epoch_end is not None:
            on_epoch_end(record, evaluation)
    return history


def format_epoch(record, epochs):
    text = (f"epoch {record['epoch']}/{epochs}  train loss {record['train_loss']:.4f}  "
            f"train acc {record['train_accuracy']:.2%}")
    if "test_accuracy" in record:
        text += f"  test loss {record['test_loss']:.4f}  test acc {record['test_accuracy']:.2%}"
    return text + f"  ({record['seconds']:.1f} s, {record['samples_per_second']:.0f} samples/s)"


# --- checkpoints ---------------------------------------------------------------------------

def save_checkpoint(path, model, optimizer=None, epoch=0, model_name="", history=(), args=None, **extra):
    """Write model and optimizer state, epochs done, history, the run's arguments and the random
    generator's state to one ``.npz`` (``tinynet.save``: atomic, no pickle)."""
    ckpt = {"format": CHECKPOINT_FORMAT, "model_name": model_name, "epoch": int(epoch),
            "model": model.state_dict(), "history": json.dumps(list(history)),
            "args": json.dumps(args or {}), "rng": json.dumps(random.generator().bit_generator.state),
            "extra": json.dumps(extra)}
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    save(ckpt, path)


def restore_rng(ckpt):
    """Put tinynet's generator back in the state the checkpoint was saved in."""
    random.generator().bit_generator.state = ckpt["rng"]


# --- progress bar --------------------------------------------------------------------------

class Progress:
    """A progress bar on stderr: ``epoch 1/2 [#####-----] 30016/60000  1234 samples/s  loss 0.2103
    ETA 0:24``. On a terminal it redraws one line (at most 10 times a second); otherwise (a log
    file, a pipe) it prints a plain line at every quarter of the epoch."""

    def __init__(self, total, label="", stream=None, width=24):
        self.total, self.label, self.width = total, label, width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done, self.loss, self.start, self.last_draw, self.next_quarter = 0, None, time.perf_counter(), 0.0, 1

    def update(self, n, loss=None):
        self.done += n
        self.loss = loss if loss is not None else self.loss
        now = time.perf_counter()
        if self.tty and now - self.last_draw >= 0.1:
            self.last_draw = now
            self.stream.write("\r" + self.line(now))
            self.stream.flush()
        elif not self.tty and self.done >= self.next_quarter * self.total / 4:
            self.next_quarter = int(4 * self.done / self.total) + 1
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now):
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0
        filled = int(self.width * self.done / max(self.total, 1))
        text = (f"{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {self.done}/{self.total}  "
                f"{rate:.0f} samples/s")
        if self.loss is not None:
            text += f"  loss {self.loss:.4f}"
        return text + f"  ETA {int(eta) // 60}:{int(eta) % 60:02d}"

    def close(self):
        if self.tty:
            self.stream.write("\r" + self.line(time.perf_counter()) + "\n")
            self.stream.flush()
