"""From settings to everything a training run needs: ``build_run`` (what ``tinynet train`` does).

    from tinynet.recipes import TrainSettings
    from tinynet.runs import build_run
    run = build_run(TrainSettings.from_recipe("r1", epochs=1, limit=2000))   # = tinynet train --recipe r1 …
    history = run.fit()                                                      # train.fit with the run's parts

``run.model``, ``run.optimizer``, ``run.scheduler`` (None without a schedule), ``run.train_loader``
and ``run.test_loader`` are ordinary tinynet objects: use them in a loop of your own just as well.
Given a checkpoint (``train.load_checkpoint``), the run continues it: its weights, optimizer
state, random generator, epochs done, history and, after a Ctrl-C, the position in its epoch.
"""
import dataclasses

from . import backend, data, models, optim, parallel, random, train as training
from .recipes import TrainSettings, normalize_values

__all__ = ["Run", "build_run", "make_normalize", "make_optimizer", "make_scheduler", "load_weights"]


def make_normalize(name):
    """The ``data.Normalize`` a ``normalize`` setting stands for (None for ``"none"``: pixels/255 only)."""
    mean_std = normalize_values(name)
    return None if mean_std is None else data.Normalize(*mean_std)


def make_optimizer(settings, params):
    """``optim.SGD`` or ``optim.Adam`` over ``params``, with the settings' learning rate and the rest."""
    if settings.optimizer == "sgd":
        return optim.SGD(params, lr=settings.lr, momentum=settings.momentum)
    return optim.Adam(params, lr=settings.lr, eps=settings.adam_eps)


def make_scheduler(settings, optimizer, epochs_done=0):
    """The learning-rate schedule (None for ``"none"``), at its place after ``epochs_done`` epochs.
    A schedule added when resuming a run that had none starts from the learning rate it had."""
    if settings.schedule == "cosine":
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs, last_epoch=epochs_done - 1)
    return None


def load_weights(model, checkpoint, source="the checkpoint", num_classes=None):
    """Load a checkpoint's weights into ``model`` (from ``models.build``), first giving it
    ``num_classes`` outputs (default: the checkpoint's ``extra["num_classes"]``, else 10; a
    fine-tuned model's head); ValueError when they do not fit. ``source`` names the checkpoint in
    the message (its path)."""
    from .finetune import replace_head
    classes = num_classes or checkpoint["extra"].get("num_classes", 10)
    if getattr(model[-1], "out_features", classes) != classes:
        replace_head(model, classes)
    try:
        model.load_state_dict(checkpoint["model"])
    except ValueError as e:
        name = checkpoint["model_name"]
        raise ValueError(f"{source} says it holds a {name!r} model, but its weights do not fit "
                         f"models.{name}(): {e}") from None
    return model


@dataclasses.dataclass
class Run:
    """The parts of one training run, built by ``build_run``; ``fit()`` trains it."""
    settings: TrainSettings
    model: object
    optimizer: object
    scheduler: object              # None: a constant learning rate
    train_set: object
    test_set: object
    train_loader: object           # shuffled with ``settings.seed``, a new order every epoch
    test_loader: object            # batches of 500, in order
    epochs_done: int = 0           # epochs a resumed checkpoint had finished
    history: list = dataclasses.field(default_factory=list)    # one dict per finished epoch
    position: dict | None = None   # where an interrupted epoch stopped (``train.fit``'s ``position``)

    def fit(self, **options):
        """``train.fit`` epochs ``epochs_done + 1 … settings.epochs`` of this run; returns the history.
        ``options`` go to ``train.fit`` (``log``, ``progress``, ``on_epoch_end``, ``should_stop``)."""
        return training.fit(self.model, self.optimizer, self.train_loader, self.test_loader, self.settings.epochs,
                            start_epoch=self.epochs_done, history=self.history, scheduler=self.scheduler,
                            position=self.position, workers=self.settings.workers, **options)


OPTIMIZER_SETTINGS = {"lr": "lr", "momentum": "momentum", "adam_eps": "eps"}   # setting -> param-group key


def _apply_new_settings(optimizer, settings, saved):
    """Options given again when resuming (``--lr``, ``--momentum``, ``--adam-eps``) win over the
    values the optimizer state brought back (as the CLI's help says); the others stay as saved."""
    for name, key in OPTIMIZER_SETTINGS.items():
        value = getattr(settings, name, None)
        if name in saved and value is not None and value != saved[name]:
            for group in optimizer.param_groups:
                if key in group:
                    group[key] = value
                    if key == "lr" and "initial_lr" in group:
                        group["initial_lr"] = value


def build_run(settings, checkpoint=None, source="the checkpoint"):
    """Model, data, optimizer and schedule for ``settings`` (a ``TrainSettings``, or a dict of them).

    Sets the backend and seeds tinynet's generator with ``settings.seed`` (so the same settings give
    the same weights); the model is ``models.build(settings.model)``, the data MNIST normalised as
    ``settings.normalize`` says (and augmented when ``settings.augment``). ``checkpoint`` (a dict
    from ``train.load_checkpoint``, named ``source`` in messages) is continued: ValueError when its
    weights or optimizer state do not fit these settings. ``settings.workers`` None becomes the cores
    available (``parallel.available_cores``; 1 on cupy) in ``run.settings``.
    """
    settings = (TrainSettings(**settings) if isinstance(settings, dict) else settings).check()
    if settings.workers is None:
        cores = 1 if settings.backend == "cupy" else min(parallel.available_cores(), parallel.MAX_WORKERS)
        settings = dataclasses.replace(settings, workers=cores)
    backend.set_backend(settings.backend)
    random.manual_seed(settings.seed)
    model = models.build(settings.model)
    if checkpoint is not None:
        load_weights(model, checkpoint, source)
    optimizer = make_optimizer(settings, model.parameters())
    resumed = dict(epochs_done=0, history=[], position=None)
    if checkpoint is not None:
        if checkpoint["optimizer"] is not None:
            try:
                optimizer.load_state_dict(checkpoint["optimizer"])
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{source}: its optimizer state does not fit --optimizer "
                                 f"{settings.optimizer}: {e}") from None
        _apply_new_settings(optimizer, settings, checkpoint.get("args") or {})
        training.restore_rng(checkpoint)
        resumed = dict(epochs_done=checkpoint["epoch"], history=checkpoint["history"],
                       position=checkpoint["extra"].get("position"))
    scheduler = make_scheduler(settings, optimizer, resumed["epochs_done"])
    normalize = make_normalize(settings.normalize)
    train_transform = data.Compose([data.RandomAffine() if settings.augment else None, normalize])
    train_set = data.mnist("train", train_transform, limit=settings.limit)
    test_set = data.mnist("test", normalize, limit=settings.limit)
    return Run(settings, model, optimizer, scheduler, train_set, test_set,
               data.DataLoader(train_set, settings.batch_size, shuffle=True, seed=settings.seed),
               data.DataLoader(test_set, 500), **resumed)
