"""``tinynet finetune``: train a model for a new task, from a checkpoint or from scratch.

    tinynet finetune --from runs/pre04/checkpoint.npz --task digits5-9 --method head \\
        --labels-per-class 100 --epochs 25 --seed 0 --out runs/ft

The tasks and their data are ``tinynet.tasks`` (digits0-4, digits5-9, mnist, fashion); the methods
``tinynet.finetune.METHODS`` (scratch, full, head, lora). ``--labels-per-class K`` keeps K training
images of each class, drawn with ``--seed`` (the same images for every method, so methods are
compared on the same data); ``all`` keeps them all. The test set is always the task's whole test
split.

Writes to ``--out`` what ``tinynet train`` writes: ``checkpoint.npz`` (the model as plain layers:
LoRA updates are merged; ``extra`` holds the task, method and class names), ``metrics.json``
(accuracy, trainable parameters, seconds, per-epoch history, report) and the PNG plots.
"""
import os
import time

from .. import finetune, models, optim, random
from ..tasks import TASKS, class_names
from . import finetuning
from .common import CLIError, claim_out, path, positive_float, positive_int, read_checkpoint, seed, set_backend

HELP = "fine-tune a checkpoint for a new task (digits 5-9, Fashion-MNIST): scratch, full, head or lora"
DEFAULTS = finetuning.SETTINGS


def labels_per_class(text):
    """``--labels-per-class``: a positive whole number, or ``all`` (None)."""
    return None if text == "all" else positive_int(text)


def add_arguments(p):
    p.add_argument("--from", dest="checkpoint", type=path, metavar="CKPT",
                   help="a checkpoint written by tinynet train or tinynet finetune (needed by every method "
                        "but scratch; for scratch it only gives the model and normalisation)")
    p.add_argument("--task", choices=list(TASKS), required=True, help="the new task")
    p.add_argument("--method", choices=list(finetune.METHODS), required=True,
                   help="; ".join(f"{k}: {v}" for k, v in finetune.METHODS.items()))
    p.add_argument("--labels-per-class", type=labels_per_class, default=DEFAULTS["labels_per_class"], metavar="K",
                   help="training images per class, drawn with --seed (default: all)")
    p.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"],
                   help="passes over the K·classes images (default 1)")
    p.add_argument("--lr", type=positive_float, default=DEFAULTS["lr"],
                   help="Adam learning rate of the head (default 1e-3)")
    p.add_argument("--backbone-lr", type=positive_float,
                   help="Adam learning rate of the rest (full, scratch, lora; default: --lr)")
    p.add_argument("--rank", type=positive_int, default=DEFAULTS["rank"], help="LoRA rank r (default 4)")
    p.add_argument("--alpha", type=positive_float, help="LoRA alpha: the update is scaled by alpha/r (default r)")
    p.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"], help="default 64")
    p.add_argument("--model", choices=list(models.MODELS), help="for scratch without --from (default cnn)")
    p.add_argument("--eval-every", type=positive_int, metavar="N",
                   help="also evaluate the test set every N epochs (default: only after the last)")
    p.add_argument("--test-limit", type=positive_int, metavar="N",
                   help="evaluate on the first N test images only (for quick runs; default: all)")
    p.add_argument("--data-dir", type=path, help="where Fashion-MNIST is (default: $TINYNET_DATA, then the search path)")
    p.add_argument("--backend", choices=["numpy", "cupy"], default=DEFAULTS["backend"])
    p.add_argument("--seed", type=seed, default=DEFAULTS["seed"],
                   help="seed for the labelled subset, weights and shuffling")
    p.add_argument("--out", type=path, help="output folder (default runs/finetune-TASK-METHOD); a folder holding another "
                                 "run is refused unless --force")
    p.add_argument("--force", action="store_true", help="replace the run found in --out (its checkpoint, "
                                                        "metrics and plots are deleted first)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def source(args):
    """(model name, normalisation name, state dict or None) from --from / --model."""
    if args.checkpoint is None:
        if args.method != "scratch":
            raise CLIError(f"--method {args.method} fine-tunes a trained model: give it with --from CKPT")
        return args.model or "cnn", "mnist", None
    if os.path.isdir(args.checkpoint):            # e.g. the --out folder of the pre-training run
        inside = os.path.join(args.checkpoint, "checkpoint.npz")
        hint = f"; did you mean --from {inside}?" if os.path.isfile(inside) else ""
        raise CLIError(f"--from {args.checkpoint} is a folder, not a checkpoint file{hint}")
    ckpt = read_checkpoint(args.checkpoint)
    if args.model and args.model != ckpt["model_name"]:
        raise CLIError(f"--model {args.model} does not match the checkpoint's model {ckpt['model_name']}")
    normalize = ckpt["args"].get("normalize", "mnist")
    return ckpt["model_name"], normalize, (None if args.method == "scratch" else ckpt["model"])


def run(args):
    """``tinynet finetune``: exit code 0, or 2 after a one-line error on stderr."""
    start = time.perf_counter()
    set_backend(args.backend)
    name, normalize_name, state = source(args)
    out = args.out or os.path.join("runs", f"finetune-{args.task}-{args.method}")
    claim_out(out, None, args.force, "tinynet finetune")
    train_set, test_set = finetuning.load_task_data(args, normalize_name)
    names = class_names(args.task)
    random.manual_seed(args.seed)
    model = models.build(name)
    if state is not None:
        try:
            finetune.load_backbone(model, state)
        except ValueError as e:
            raise CLIError(f"{args.checkpoint} says it holds a {name!r} model, but its weights do not fit "
                           f"models.{name}() (a checkpoint of another model?): {e}") from None
    try:
        head = finetune.prepare(model, args.method, len(names), args.rank, args.alpha)
    except ValueError as e:               # e.g. a LoRA rank above a layer's smaller side
        raise CLIError(str(e)) from None
    lr_backbone = args.backbone_lr or args.lr
    optimizer = optim.Adam(finetune.param_groups(model, head, args.lr, lr_backbone))
    k = "all" if args.labels_per_class is None else args.labels_per_class
    print(f"finetune {name} for {args.task} ({len(names)} classes, {len(train_set):,} training images = {k} per "
          f"class) by {args.method}: {model.num_parameters(trainable_only=True):,} of {model.num_parameters():,} "
          f"parameters trainable; Adam lr {args.lr:g} (backbone {lr_backbone:g}), batch {args.batch_size}, "
          f"{args.epochs} epochs; output in {out}/", flush=True)
    finetune.trainable_summary(model)
    return finetuning.train_and_write(args, name, normalize_name, model, optimizer, names, train_set, test_set,
                                      out, start)
