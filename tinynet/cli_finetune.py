"""``tinynet finetune``: train a model for a new task, from a checkpoint or from scratch.

    tinynet finetune --from runs/pre04/checkpoint.npz --task digits5-9 --method head \\
        --labels-per-class 100 --epochs 25 --seed 0 --out runs/ft

Tasks (the labels are renumbered from 0, so digits 5–9 get a 5-way head):

    digits0-4   MNIST images of the digits 0–4         (5 classes; for pre-training)
    digits5-9   MNIST images of the digits 5–9         (5 classes)
    mnist       all of MNIST                           (10 classes; for pre-training)
    fashion     Fashion-MNIST (not bundled: --data-dir or $TINYNET_DATA, see README "Data")

``--labels-per-class K`` keeps K training images of each class, drawn with ``--seed`` (the same
images for every method, so methods are compared on the same data); ``all`` keeps them all.
The test set is always the task's whole test split. Methods: see ``tinynet.finetune.METHODS``.

Writes to ``--out`` what ``tinynet train`` writes: ``checkpoint.npz`` (the model as plain layers:
LoRA updates are merged; ``extra`` holds the task, method and class names), ``metrics.json``
(accuracy, trainable parameters, seconds, per-epoch history, report) and the PNG plots.
"""
import json
import os
import sys
import time

from . import backend, data, finetune, metrics, models, optim, random, train as training

TASKS = {   # name -> (data set, the original labels used, class names)
    "digits0-4": ("mnist", range(0, 5), [str(d) for d in range(0, 5)]),
    "digits5-9": ("mnist", range(5, 10), [str(d) for d in range(5, 10)]),
    "mnist": ("mnist", range(10), [str(d) for d in range(10)]),
    "fashion": ("fashion", range(10), None),
}


def _load(dataset, split, data_dir):
    if dataset == "mnist":
        from data_tools.mnist import load_mnist
        return load_mnist(split)
    from data_tools.mnist import load_fashion_mnist
    return load_fashion_mnist(split, data_dir)


def class_names(task):
    names = TASKS[task][2]
    if names is None:
        from data_tools.mnist import FASHION_MNIST_CLASSES
        names = list(FASHION_MNIST_CLASSES)
    return names


def labels_per_class(labels, k, seed, names=None):
    """Indices of ``k`` samples of each label in ``labels`` (sorted), drawn without replacement
    by a generator seeded with ``seed`` alone; ``k=None`` keeps every index. A ``k`` larger than
    the smallest class is an error naming that class (``names[c]`` when given) and the largest
    ``k`` that works."""
    np = backend.get_module("numpy")
    if k is None:
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    if k > counts.min():
        c, n = classes[counts.argmin()], int(counts.min())
        label = f"{c} ({names[c]!r})" if names is not None else f"{c}"
        raise ValueError(f"--labels-per-class {k}: class {label} has only {n:,} training images; "
                         f"use at most {n:,}, or 'all'")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        chosen.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def task_data(task, k=None, seed=0, normalize=None, data_dir=None, test_limit=None):
    """``(train, test)`` TensorDatasets of ``task`` with labels renumbered 0…C-1; ``k`` labels
    per class in train (None: all); the first ``test_limit`` test images (None: all).
    Images become float32 in [0, 1], then ``normalize``."""
    np = backend.get_module("numpy")
    dataset, keep, _ = TASKS[task]
    out = []
    for split in ("train", "test"):
        images, labels = _load(dataset, split, data_dir)
        mask = np.isin(labels, list(keep))
        images, labels = images[mask], labels[mask].astype(np.int64) - keep.start
        if split == "train":
            idx = labels_per_class(labels, k, seed, class_names(task))
            images, labels = images[idx], labels[idx]
        elif test_limit is not None:
            images, labels = images[:test_limit], labels[:test_limit]
        out.append(data.TensorDataset(images[:, None], labels, transform=data.Compose([data.ToFloat(), normalize])))
    return tuple(out)


# --- the command ---------------------------------------------------------------------------

def _k(text):
    if text == "all":
        return None
    from .cli import positive_int
    return positive_int(text)


def finetune_arguments(p):
    from .cli import positive_float, positive_int
    p.add_argument("--from", dest="checkpoint", metavar="CKPT",
                   help="a checkpoint written by tinynet train or tinynet finetune (needed by every method "
                        "but scratch; for scratch it only gives the model and normalisation)")
    p.add_argument("--task", choices=list(TASKS), required=True, help="the new task")
    p.add_argument("--method", choices=list(finetune.METHODS), required=True,
                   help="; ".join(f"{k}: {v}" for k, v in finetune.METHODS.items()))
    p.add_argument("--labels-per-class", type=_k, default=None, metavar="K",
                   help="training images per class, drawn with --seed (default: all)")
    p.add_argument("--epochs", type=positive_int, default=1, help="passes over the K·classes images (default 1)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate of the head (default 1e-3)")
    p.add_argument("--backbone-lr", type=positive_float,
                   help="Adam learning rate of the rest (full, scratch, lora; default: --lr)")
    p.add_argument("--rank", type=positive_int, default=4, help="LoRA rank r (default 4)")
    p.add_argument("--alpha", type=positive_float, help="LoRA alpha: the update is scaled by alpha/r (default r)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="default 64")
    p.add_argument("--model", choices=list(models.MODELS), help="for scratch without --from (default cnn)")
    p.add_argument("--eval-every", type=positive_int, metavar="N",
                   help="also evaluate the test set every N epochs (default: only after the last)")
    p.add_argument("--test-limit", type=positive_int, metavar="N",
                   help="evaluate on the first N test images only (for quick runs; default: all)")
    p.add_argument("--data-dir", help="where Fashion-MNIST is (default: $TINYNET_DATA, then the search path)")
    p.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    p.add_argument("--seed", type=int, default=0, help="seed for the labelled subset, weights and shuffling")
    p.add_argument("--out", help="output folder (default runs/finetune-TASK-METHOD)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def _source(args):
    """(model name, normalisation name, state dict or None) from --from / --model."""
    from .cli import CLIError, read_checkpoint
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


def run_finetune(args):
    """``tinynet finetune``: exit code 0, or 2 after a one-line error on stderr."""
    from .cli import CLIError
    try:
        return _run(args)
    except CLIError as e:     # caught here too: under ``python -m tinynet.cli`` main's CLIError is another class
        print(f"tinynet finetune: error: {e}", file=sys.stderr)
        return 2


def _run(args):
    from .cli import CLIError, make_normalize, set_backend
    start = time.perf_counter()
    set_backend(args.backend)
    name, normalize_name, state = _source(args)
    try:
        train_set, test_set = task_data(args.task, args.labels_per_class, args.seed,
                                        make_normalize(normalize_name), args.data_dir, args.test_limit)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    names = class_names(args.task)
    random.manual_seed(args.seed)
    model = models.build(name)
    if state is not None:
        try:
            finetune.load_backbone(model, state)
        except ValueError as e:
            raise CLIError(f"{args.checkpoint} says it holds a {name!r} model, but its weights do not fit "
                           f"models.{name}() (a checkpoint of another model?): {e}") from None
    head = finetune.prepare(model, args.method, len(names), args.rank, args.alpha)
    lr_backbone = args.backbone_lr or args.lr
    optimizer = optim.Adam(finetune.param_groups(model, head, args.lr, lr_backbone))
    trainable = model.num_parameters(trainable_only=True)
    lora_params = finetune.lora_parameter_count(model)
    out = args.out or os.path.join("runs", f"finetune-{args.task}-{args.method}")
    os.makedirs(out, exist_ok=True)
    k = "all" if args.labels_per_class is None else args.labels_per_class
    print(f"finetune {name} for {args.task} ({len(names)} classes, {len(train_set):,} training images = {k} per "
          f"class) by {args.method}: {trainable:,} of {model.num_parameters():,} parameters trainable; Adam lr "
          f"{args.lr:g} (backbone {lr_backbone:g}), batch {args.batch_size}, {args.epochs} epochs; output in {out}/",
          flush=True)
    finetune.trainable_summary(model)
    loader = data.DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed)
    test_loader = data.DataLoader(test_set, 500)
    history, eval_seconds = [], [0.0]

    def on_epoch_end(record, _):
        if args.eval_every and record["epoch"] % args.eval_every == 0 and record["epoch"] < args.epochs:
            t0 = time.perf_counter()
            ev = training.evaluate(model, test_loader)
            record["test_loss"], record["test_accuracy"] = ev["loss"], ev["accuracy"]
            eval_seconds[0] += time.perf_counter() - t0
            print(f"  epoch {record['epoch']}: test accuracy {ev['accuracy']:.2%}", flush=True)

    quiet = args.epochs > 20       # one line per epoch is too much for hundreds of tiny epochs
    t0 = time.perf_counter()
    try:
        training.fit(model, optimizer, loader, None, args.epochs, history=history, progress=not quiet,
                     on_epoch_end=on_epoch_end, log=None if quiet else (lambda s: print(s, flush=True)))
    except training.NonFiniteLossError as e:
        raise CLIError(str(e)) from None
    train_seconds = time.perf_counter() - t0 - eval_seconds[0]
    t0 = time.perf_counter()
    evaluation = training.evaluate(model, test_loader)
    eval_seconds[0] += time.perf_counter() - t0
    history[-1]["test_loss"], history[-1]["test_accuracy"] = evaluation["loss"], evaluation["accuracy"]
    report = metrics.classification_report(evaluation["labels"], evaluation["predictions"], num_classes=len(names))
    steps = args.epochs * len(loader)
    config = {k: v for k, v in vars(args).items() if k not in ("command",)}
    config.update(model=name, normalize=normalize_name, labels_per_class=k, backbone_lr=lr_backbone)
    finetune.merge_lora(model)               # save plain layers: the checkpoint loads into models.build(name)
    checkpoint = os.path.join(out, "checkpoint.npz")
    training.save_checkpoint(checkpoint, model, None if args.method == "lora" else optimizer, args.epochs, name,
                             history, config, task=args.task, method=args.method, class_names=names,
                             num_classes=len(names))
    files = {"checkpoint": checkpoint, "metrics": os.path.join(out, "metrics.json")}
    if not args.no_plots:
        files.update(_plots(out, history, report, test_set, evaluation, model, names, args))
    summary = {"model": name, "task": args.task, "method": args.method, "labels_per_class": k,
               "train_images": len(train_set), "seed": args.seed, "parameters": model.num_parameters(),
               "trainable_parameters": trainable, "lora_parameters": lora_params, "steps": steps,
               "test_accuracy": report["accuracy"], "test_loss": evaluation["loss"],
               "train_seconds": train_seconds, "seconds_per_step": train_seconds / max(steps, 1),
               "eval_seconds": eval_seconds[0], "wall_seconds": time.perf_counter() - start,
               "class_names": names, "config": config, "epochs": history, "report": report, "files": files}
    with open(files["metrics"], "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{args.task} by {args.method}, {k} labels per class: test accuracy {report['accuracy']:.2%} after "
          f"{steps} steps; training {train_seconds:.1f} s ({1000 * summary['seconds_per_step']:.0f} ms/step), "
          f"{summary['wall_seconds']:.1f} s in all. Wrote: {', '.join(files.values())}", flush=True)
    return 0


def _plots(out, history, report, test_set, evaluation, model, names, args):
    from . import nn, plots
    title = f"{args.task} by {args.method}"
    files = {"curves": plots.loss_curves(history, os.path.join(out, "curves.png"), title=title),
             "confusion": plots.confusion_heatmap(report["confusion_matrix"], os.path.join(out, "confusion.png"),
                                                  class_names=names, title=title)}
    offset = TASKS[args.task][1].start       # show digits as digits (5–9), not as class numbers
    files["misclassified"] = plots.misclassified_grid(test_set.arrays[0], evaluation["labels"] + offset,
                                                      evaluation["predictions"] + offset,
                                                      os.path.join(out, "misclassified.png"))
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first_conv is not None:
        files["filters"] = plots.first_layer_filters(first_conv.weight, os.path.join(out, "filters.png"))
    return files
