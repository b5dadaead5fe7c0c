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
import os
import sys
import time

from . import backend, data, finetune, metrics, models, nn, optim, random, train as training

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


def task_split(task, split, normalize=None, data_dir=None, limit=None, k=None, seed=0):
    """The ``split`` ("train" or "test") of ``task`` as a TensorDataset, labels renumbered 0…C-1:
    ``k`` labels per class drawn with ``seed`` (None: all), then the first ``limit`` images (None:
    all). Images become float32 in [0, 1], then ``normalize``."""
    np = backend.get_module("numpy")
    dataset, keep, _ = TASKS[task]
    images, labels = _load(dataset, split, data_dir)
    mask = np.isin(labels, list(keep))
    images, labels = images[mask], labels[mask].astype(np.int64) - keep.start
    idx = labels_per_class(labels, k, seed, class_names(task))
    images, labels = images[idx][:limit], labels[idx][:limit]
    return data.TensorDataset(images[:, None], labels, transform=data.Compose([data.ToFloat(), normalize]))


def task_data(task, k=None, seed=0, normalize=None, data_dir=None, test_limit=None):
    """``(train, test)`` TensorDatasets of ``task`` (see ``task_split``): ``k`` labels per class in
    train (None: all); the first ``test_limit`` test images (None: all)."""
    return (task_split(task, "train", normalize, data_dir, k=k, seed=seed),
            task_split(task, "test", normalize, data_dir, limit=test_limit))


# --- the command ---------------------------------------------------------------------------

def _k(text):
    if text == "all":
        return None
    from .cli import positive_int
    return positive_int(text)


def finetune_arguments(p):
    from .cli import positive_float, positive_int, seed
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
    p.add_argument("--seed", type=seed, default=0, help="seed for the labelled subset, weights and shuffling")
    p.add_argument("--out", help="output folder (default runs/finetune-TASK-METHOD); a folder holding another "
                                 "run is refused unless --force")
    p.add_argument("--force", action="store_true", help="replace the run found in --out (its checkpoint, "
                                                        "metrics and plots are deleted first)")
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
    from .cli import CLIError, claim_out, make_normalize, set_backend
    start = time.perf_counter()
    set_backend(args.backend)
    name, normalize_name, state = _source(args)
    out = args.out or os.path.join("runs", f"finetune-{args.task}-{args.method}")
    claim_out(out, None, args.force, "tinynet finetune")
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
    k = "all" if args.labels_per_class is None else args.labels_per_class
    print(f"finetune {name} for {args.task} ({len(names)} classes, {len(train_set):,} training images = {k} per "
          f"class) by {args.method}: {model.num_parameters(trainable_only=True):,} of {model.num_parameters():,} "
          f"parameters trainable; Adam lr {args.lr:g} (backbone {lr_backbone:g}), batch {args.batch_size}, "
          f"{args.epochs} epochs; output in {out}/", flush=True)
    finetune.trainable_summary(model)
    return _train_and_write(args, name, normalize_name, model, optimizer, names, train_set, test_set, out, start)


def _train_and_write(args, name, normalize_name, model, optimizer, names, train_set, test_set, out, start,
                     history=None, done=0):
    """Train epochs ``done + 1 … args.epochs``, evaluate, and write checkpoint, metrics.json and plots."""
    from .cli import CLIError, write_json
    trainable = model.num_parameters(trainable_only=True)
    lora_params = finetune.lora_parameter_count(model)
    k = "all" if args.labels_per_class is None else args.labels_per_class
    loader = data.DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed)
    test_loader = data.DataLoader(test_set, 500)
    history, eval_seconds = ([] if history is None else history), [0.0]

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
        training.fit(model, optimizer, loader, None, args.epochs, start_epoch=done, history=history,
                     progress=not quiet, on_epoch_end=on_epoch_end,
                     log=None if quiet else (lambda s: print(s, flush=True)))
    except training.NonFiniteLossError as e:
        raise CLIError(str(e)) from None
    train_seconds = time.perf_counter() - t0 - eval_seconds[0]
    t0 = time.perf_counter()
    evaluation = training.evaluate(model, test_loader)
    eval_seconds[0] += time.perf_counter() - t0
    history[-1]["test_loss"], history[-1]["test_accuracy"] = evaluation["loss"], evaluation["accuracy"]
    report = metrics.classification_report(evaluation["labels"], evaluation["predictions"], num_classes=len(names))
    steps = (args.epochs - done) * len(loader)
    config = {k: v for k, v in vars(args).items() if k not in ("command", "force")}
    config.update(model=name, normalize=normalize_name, labels_per_class=k, backbone_lr=args.backbone_lr or args.lr)
    finetune.merge_lora(model)               # save plain layers: the checkpoint loads into models.build(name)
    checkpoint = os.path.join(out, "checkpoint.npz")
    try:
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
        write_json(files["metrics"], summary)
    except OSError as e:
        raise CLIError(f"could not write {e.filename or out}: {e.strerror or e}") from None
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


# --- tinynet train --resume on a fine-tuned checkpoint -------------------------------------------

TRAIN_OPTIONS_KEPT = ("epochs", "out", "resume", "no_plots", "force", "backend", "command")


def resume_finetune(args, ckpt):
    """``tinynet train --resume CKPT --epochs N`` where CKPT was written by ``tinynet finetune``:
    continue that fine-tuning (same task, labelled subset, method, learning rates and shuffling)
    up to epoch N. Exactly as if it had been asked for N epochs at first, except for LoRA (its
    checkpoint holds the merged weights: training goes on with a new LoRA update on them)."""
    from .cli import CLIError
    try:
        return _resume(args, ckpt)
    except CLIError as e:     # see run_finetune
        print(f"tinynet train: error: {e}", file=sys.stderr)
        return 2


def _settings(ckpt, path):
    """The fine-tuning run's options, as ``finetune_arguments`` would have parsed them, checked."""
    import argparse
    from .cli import CLIError, _Parser, normalization
    saved = ckpt["args"]
    parser = _Parser(prog="tinynet finetune")
    finetune_arguments(parser)
    defaults = vars(parser.parse_args(["--task", "mnist", "--method", "full"]))
    settings = argparse.Namespace(**{**defaults, **{k: v for k, v in saved.items() if k in defaults}})
    settings.task, settings.method = ckpt["extra"].get("task"), ckpt["extra"].get("method")
    settings.labels_per_class = None if settings.labels_per_class == "all" else settings.labels_per_class
    checks = {"task": settings.task in TASKS, "method": settings.method in finetune.METHODS,
              "model": settings.model in models.MODELS}
    for key in ("labels_per_class", "rank", "batch_size", "seed", "epochs", "eval_every", "test_limit"):
        value = getattr(settings, key)
        checks[key] = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
    for key in ("lr", "backbone_lr", "alpha"):
        value = getattr(settings, key)
        checks[key] = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0)
    checks["data_dir"] = settings.data_dir is None or isinstance(settings.data_dir, str)
    settings.normalize = saved.get("normalize", "mnist")
    try:
        normalization(settings.normalize)
    except (argparse.ArgumentTypeError, AttributeError, TypeError):
        checks["normalize"] = False
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise CLIError(f"{path}: its fine-tuning settings are damaged ({', '.join(f'{k}={getattr(settings, k)!r}' for k in bad)})")
    return settings


def _resume(args, ckpt):
    from .cli import CLIError, claim_out, load_weights, make_normalize, set_backend
    start = time.perf_counter()
    given = [k for k, v in vars(args).items() if k not in TRAIN_OPTIONS_KEPT and v not in (None, False)]
    if given:
        raise CLIError(f"{args.resume} was written by tinynet finetune and continues with its own settings: "
                       f"only --epochs, --out, --no-plots, --force and --backend apply "
                       f"(not --{given[0].replace('_', '-')})")
    settings = _settings(ckpt, args.resume)
    done = ckpt["epoch"]
    if args.epochs is None or done >= args.epochs:
        raise CLIError(f"the checkpoint has already trained {done} epochs; ask for more with --epochs {done + 1} "
                       f"or higher")
    settings.epochs, settings.no_plots = args.epochs, args.no_plots
    settings.backend = args.backend or settings.backend
    out = args.out or os.path.dirname(args.resume) or "."
    claim_out(out, args.resume, args.force)
    set_backend(settings.backend)
    names = class_names(settings.task)
    model = load_weights(models.build(ckpt["model_name"]), ckpt, args.resume)
    if len(names) != model[-1].out_features:
        raise CLIError(f"{args.resume}: a head of {model[-1].out_features} classes for task {settings.task!r}, "
                       f"which has {len(names)}")
    head = str(len(model) - 1)
    if settings.method in ("head", "lora"):
        finetune.freeze(model)
        if settings.method == "lora":
            body = [n for n, m in model.named_children() if n != head and isinstance(m, (nn.Linear, nn.Conv2d))]
            finetune.apply_lora(model, settings.rank, settings.alpha, targets=body)
        finetune.unfreeze(model, head)
    optimizer = optim.Adam(finetune.param_groups(model, head, settings.lr, settings.backbone_lr or settings.lr))
    if ckpt["optimizer"] is not None and settings.method != "lora":
        try:
            optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError, TypeError) as e:
            raise CLIError(f"{args.resume}: its optimizer state does not fit the {settings.method!r} method: {e}") \
                from None
    try:
        train_set, test_set = task_data(settings.task, settings.labels_per_class, settings.seed,
                                        make_normalize(settings.normalize), settings.data_dir, settings.test_limit)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    training.restore_rng(ckpt)
    print(f"continuing the fine-tuning of {ckpt['model_name']} for {settings.task} by {settings.method} "
          f"with epochs {done + 1}..{settings.epochs}; output in {out}/", flush=True)
    return _train_and_write(settings, ckpt["model_name"], settings.normalize, model, optimizer, names, train_set,
                            test_set, out, start, history=ckpt["history"], done=done)
