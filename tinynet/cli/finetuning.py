"""A fine-tuning run, shared by ``tinynet finetune`` (a new one) and ``tinynet train --resume``
(continuing one): train, evaluate, write checkpoint, metrics.json and plots. Not a command itself.

``SETTINGS`` are the fine-tuning options with their defaults (``tinynet finetune --help``); a
fine-tuned checkpoint stores them as its ``args``, and ``resume`` continues from them.
"""
import argparse
import os
import time

from .. import finetune, metrics, models, nn, optim, train as training
from ..runs import make_normalize
from ..tasks import TASKS, class_names, task_data
from .common import CLIError, claim_out, first_conv_filters, has_dropout, load_weights, normalization, set_backend, write_json

SETTINGS = dict(checkpoint=None, task=None, method=None, labels_per_class=None, epochs=1, lr=1e-3, backbone_lr=None,
                rank=4, alpha=None, batch_size=64, model=None, eval_every=None, test_limit=None, data_dir=None,
                backend="numpy", seed=0, out=None, force=False, no_plots=False)


def load_task_data(settings, normalize_name):
    """``(train, test)`` of the settings' task (``tinynet.tasks.task_data``); a CLIError when it cannot be had."""
    try:
        return task_data(settings.task, settings.labels_per_class, settings.seed, make_normalize(normalize_name),
                         settings.data_dir, settings.test_limit)
    except FileNotFoundError as e:       # the library's message lists every folder searched: one line here
        raise CLIError(missing_data(settings, e)) from None
    except ValueError as e:
        raise CLIError(str(e)) from None


def missing_data(settings, error):
    """One line for a task's data set that is nowhere: what is missing, where, and how to get it."""
    first = str(error).strip().splitlines()[0].rstrip(".:") if str(error).strip() else "its files were not found"
    if TASKS[settings.task][0] != "fashion":
        return first
    where = f"in --data-dir {settings.data_dir!r}" if settings.data_dir else "on the search path"
    return (f"{first} {where}; get Fashion-MNIST with: python -m data_tools download fashion-mnist --dest DIR, "
            f"then --data-dir DIR")


def train_and_write(args, name, normalize_name, model, optimizer, names, train_set, test_set, out, start,
                    history=None, done=0):
    """Train epochs ``done + 1 … args.epochs``, evaluate, and write checkpoint, metrics.json and plots."""
    from .. import data
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
            files.update(write_plots(out, history, report, test_set, evaluation, model, names, args))
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


def write_plots(out, history, report, test_set, evaluation, model, names, args):
    from .. import plots
    title = f"{args.task} by {args.method}"
    files = {"curves": plots.loss_curves(history, os.path.join(out, "curves.png"), title=title,
                                         dropout=has_dropout(model)),
             "confusion": plots.confusion_heatmap(report["confusion_matrix"], os.path.join(out, "confusion.png"),
                                                  class_names=names, title=title)}
    offset = TASKS[args.task][1].start       # show digits as digits (5–9), not as class numbers
    files["misclassified"] = plots.misclassified_grid(test_set.arrays[0], evaluation["labels"] + offset,
                                                      evaluation["predictions"] + offset,
                                                      os.path.join(out, "misclassified.png"))
    return {**files, **first_conv_filters(model, out)}


# --- tinynet train --resume on a fine-tuned checkpoint -------------------------------------------

TRAIN_OPTIONS_KEPT = ("epochs", "out", "resume", "no_plots", "force", "backend", "command")


def saved_settings(ckpt, path):
    """The fine-tuning run's options (``SETTINGS`` updated with what the checkpoint saved), checked."""
    saved = ckpt["args"]
    settings = argparse.Namespace(**{**SETTINGS, **{k: v for k, v in saved.items() if k in SETTINGS}})
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
        raise CLIError(f"{path}: its fine-tuning settings are damaged "
                       f"({', '.join(f'{k}={getattr(settings, k)!r}' for k in bad)})")
    return settings


def resume(args, ckpt):
    """``tinynet train --resume CKPT --epochs N`` where CKPT was written by ``tinynet finetune``:
    continue that fine-tuning (same task, labelled subset, method, learning rates and shuffling)
    up to epoch N. Exactly as if it had been asked for N epochs at first, except for LoRA (its
    checkpoint holds the merged weights: training goes on with a new LoRA update on them)."""
    start = time.perf_counter()
    given = [k for k, v in vars(args).items() if k not in TRAIN_OPTIONS_KEPT and v not in (None, False)]
    if given:
        raise CLIError(f"{args.resume} was written by tinynet finetune and continues with its own settings: "
                       f"only --epochs, --out, --no-plots, --force and --backend apply "
                       f"(not --{given[0].replace('_', '-')})")
    settings = saved_settings(ckpt, args.resume)
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
    train_set, test_set = load_task_data(settings, settings.normalize)
    training.restore_rng(ckpt)
    print(f"continuing the fine-tuning of {ckpt['model_name']} for {settings.task} by {settings.method} "
          f"with epochs {done + 1}..{settings.epochs}; output in {out}/", flush=True)
    return train_and_write(settings, ckpt["model_name"], settings.normalize, model, optimizer, names, train_set,
                           test_set, out, start, history=ckpt["history"], done=done)
