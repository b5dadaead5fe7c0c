"""Training settings: every choice a ``tinynet train`` run makes, and the articles' recipes.

    settings = TrainSettings.from_recipe("r1", epochs=1)    # article 001's recipe, 1 epoch
    settings = TrainSettings(model="lenet", optimizer="sgd", lr=0.01, momentum=0.9)
    run = tinynet.runs.build_run(settings)                   # model, data, optimizer, schedule

The names are the command's options (``--batch-size`` is ``batch_size``) and, where PyTorch has
one, PyTorch's name (``lr``, ``momentum``, ``batch_size``; ``adam_eps`` is ``Adam``'s ``eps``).
``normalize`` names a ``data.Normalize``: ``"mnist"`` (0.1307, 0.3081), ``"half"`` (0.5, 0.5),
``"none"`` (pixels/255 only) or ``"MEAN,STD"``.

A setting comes from, weakest first: the defaults below < the recipe < the settings a resumed
checkpoint was trained with < what the user gives (``from_recipe``).
"""
import dataclasses
import math

__all__ = ["RECIPES", "NORMALIZE", "TrainSettings", "normalize_values"]

# The articles' training recipes (audit: /work/shared/research/article_claims.md, "Training recipes").
RECIPES = {
    "r1": dict(model="cnn_dropout", optimizer="adam", lr=1e-3, batch_size=100, epochs=10, normalize="half",
               source="article 001 §5.2 L197–255: Adam lr 0.001, batch 100, 10 epochs, Normalize(0.5, 0.5)"),
    "r2": dict(model="keras_cnn", optimizer="adam", lr=1e-3, adam_eps=1e-7, batch_size=128, epochs=10,
               normalize="none", source="article 002 §5.1–5.3 L124–157: Keras 'adam' (lr 0.001, epsilon 1e-7), "
               "batch 128, 10 epochs, x/255; validation_split is cut off, so all 60,000 images are trained on"),
    "r3": dict(model="lenet", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=64, epochs=2, normalize="mnist",
               source="article 003 §3.2.3 L110–128: SGD lr 0.01 momentum 0.9, 2 epochs, Normalize(0.1307, 0.3081); "
               "the batch size is undefined there (train_loader is never built), 64 is taken from §5.2"),
    "r4": dict(model="cnn", optimizer="sgd", lr=0.01, momentum=0.9, batch_size=64, epochs=2, normalize="mnist",
               source="article 003 §5.2 L272–308: SGD lr 0.01 momentum 0.9, batch 64, 2 epochs, "
               "Normalize(0.1307, 0.3081)"),
    "r5": dict(model="cnn", optimizer="adam", lr=1e-3, batch_size=64, epochs=10, normalize="none",
               source="article 004 §5.2 L162–177: Adam lr 0.001, batch 64, 10 epochs, ToTensor only"),
}

NORMALIZE = {"mnist": (0.1307, 0.3081), "half": (0.5, 0.5), "none": None}   # name -> (mean, std) or None


def normalize_values(name):
    """``(mean, std)`` for a ``normalize`` setting (None for ``"none"``); ValueError for anything else."""
    if name in NORMALIZE:
        return NORMALIZE[name]
    try:
        mean, std = (float(v) for v in name.split(","))
    except (ValueError, AttributeError):
        raise ValueError(f"normalize: expected mnist, half, none or MEAN,STD (such as 0.1307,0.3081), "
                         f"got {name!r}") from None
    for what, value in (("mean", mean), ("standard deviation", std)):
        if not (math.isfinite(value) and abs(value) <= FLOAT32_MAX):
            raise ValueError(f"normalize: the {what} must be a finite number (in float32), got {value}")
    if not std >= MIN_STD:
        raise ValueError(f"normalize: the standard deviation must be at least {MIN_STD:g}, got {std:g}")
    return mean, std


FLOAT32_MAX = 3.4028234663852886e38     # np.finfo(np.float32).max: Normalize computes in float32
MIN_STD = 1e-6                          # a smaller one turns pixels into numbers beyond float32


def _is_number(value):
    """An int or float, not a bool (``lr=True`` is a mistake, not 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass
class TrainSettings:
    """What a training run is: model, optimizer, data and schedule (see the module docstring)."""
    model: str = "cnn"            # a name of tinynet.models.MODELS
    optimizer: str = "adam"       # "adam" or "sgd"
    lr: float = 1e-3
    momentum: float = 0.0         # SGD only
    adam_eps: float = 1e-8        # Adam's eps (Keras uses 1e-7)
    batch_size: int = 64
    epochs: int = 2               # train until this many epochs are done
    normalize: str = "mnist"
    augment: bool = False         # random rotation, translation and scaling of training images
    schedule: str = "none"        # "none" (constant lr) or "cosine" (annealed towards 0 over `epochs`)
    backend: str = "numpy"        # or "cupy"
    limit: int | None = None      # only the first N training and test images
    seed: int = 0                 # weights, shuffling, dropout, augmentation
    workers: int | None = None    # threads each batch is split over (tinynet.parallel); None: the cores available
    recipe: str | None = None     # the recipe these settings started from (a key of RECIPES), for the record

    @classmethod
    def from_recipe(cls, recipe=None, saved=None, **options):
        """Defaults < ``RECIPES[recipe]`` < ``saved`` (a resumed checkpoint's ``args``) < ``options``.

        ``recipe`` None takes the saved run's recipe, if any; options that are None are not given
        (so ``vars(parsed_args)`` can be passed as it is); keys that are no setting are ignored."""
        saved = saved or {}
        recipe = recipe or saved.get("recipe")
        if recipe is not None and recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
        names = {f.name for f in dataclasses.fields(cls)} - {"recipe"}
        values = {k: v for k, v in RECIPES[recipe].items() if k in names} if recipe else {}
        values.update({k: v for k, v in saved.items() if k in names})
        values.update({k: v for k, v in options.items() if k in names and v is not None})
        return cls(**values, recipe=recipe)

    def as_dict(self):
        """The settings as a JSON-ready dict (what checkpoints store as ``args`` and metrics.json as ``config``)."""
        return dataclasses.asdict(self)

    def check(self):
        """Raise ValueError naming the first setting whose value tinynet cannot use; return self."""
        from .models import MODELS
        choices = {"model": MODELS, "optimizer": ("adam", "sgd"), "schedule": ("none", "cosine"),
                   "backend": ("numpy", "cupy"), "recipe": (None, *RECIPES)}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not one of {', '.join(map(str, allowed))}")
        for name in ("lr", "adam_eps"):
            if not (_is_number(getattr(self, name)) and 0 < getattr(self, name) < math.inf):
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        if not (_is_number(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.optimizer != "sgd" and self.momentum:
            raise ValueError("momentum applies to optimizer 'sgd' only (Adam has its own betas)")
        for name, least in (("batch_size", 1), ("epochs", 1), ("limit", 1), ("seed", 0)):
            value = getattr(self, name)
            if not (value is None and name == "limit") and not (
                    isinstance(value, int) and not isinstance(value, bool) and value >= least):
                raise ValueError(f"{name} must be a whole number, at least {least}; got {value!r}")
        normalize_values(self.normalize)
        if self.workers is not None:
            from .parallel import MAX_WORKERS
            if not (_is_number(self.workers) and isinstance(self.workers, int) and 1 <= self.workers <= MAX_WORKERS):
                raise ValueError(f"workers must be a whole number from 1 to {MAX_WORKERS} (or None: the cores "
                                 f"available), got {self.workers!r}")
            if self.backend == "cupy" and self.workers > 1:
                raise ValueError(f"workers: {self.workers} workers split a batch over CPU cores; with backend cupy "
                                 "the GPU does the work (use 1 worker)")
        return self
