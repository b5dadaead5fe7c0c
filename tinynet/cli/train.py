"""``tinynet train``: a thin shell over ``tinynet.runs.build_run`` and ``Run.fit``.

It turns the options into ``TrainSettings`` (defaults < ``--recipe`` < a resumed checkpoint's
settings < options given), claims ``--out``, builds the run, trains it with a checkpoint after
every epoch (and one at Ctrl-C, from which ``--resume`` continues exactly), then writes
metrics.json and the plots. A checkpoint of ``tinynet finetune`` continues its fine-tuning.
"""
import os
import sys
import time

from .. import metrics, models, parallel, train as training
from ..interrupt import StopRequest
from ..recipes import RECIPES, TrainSettings
from ..runs import build_run
from . import finetuning
from .common import (CLIError, EXIT_INTERRUPTED, SaveError, claim_out, failed, first_conv_filters, fraction, has_dropout,
                     normalization, path, positive_float, positive_int, read_checkpoint, seed, set_backend, workers,
                     write_json)

HELP = "train a model on MNIST (checkpoint, metrics.json and plots in --out)"


def add_arguments(p):
    p.add_argument("--model", choices=list(models.MODELS), help="the model (default cnn; see: tinynet summary)")
    p.add_argument("--recipe", choices=list(RECIPES),
                   help="an article's recipe: sets model, optimizer, lr, batch size, epochs and normalisation "
                        "(options given explicitly still win)")
    p.add_argument("--epochs", type=positive_int, help="train until this many epochs are done (default 2)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], help="default adam")
    p.add_argument("--lr", type=positive_float, help="learning rate (default 1e-3)")
    p.add_argument("--momentum", type=fraction, help="SGD momentum (default 0)")
    p.add_argument("--adam-eps", type=positive_float, help="Adam's epsilon (default 1e-8; Keras uses 1e-7)")
    p.add_argument("--batch-size", type=positive_int, help="default 64")
    p.add_argument("--normalize", type=normalization,
                   help="mnist = Normalize(0.1307, 0.3081) (default), half = Normalize(0.5, 0.5), "
                        "none = pixels/255 only, or MEAN,STD")
    p.add_argument("--augment", action="store_true", default=None,
                   help="random rotation (±10°), translation (±10%%) and scaling (0.9–1.1) of training images")
    p.add_argument("--schedule", choices=["none", "cosine"],
                   help="learning rate per epoch: constant (none, default) or cosine-annealed from --lr towards 0 "
                        "over --epochs")
    p.add_argument("--backend", choices=["numpy", "cupy"], help="default numpy")
    p.add_argument("--limit", type=positive_int, help="use only the first N training and test images")
    p.add_argument("--seed", type=seed, help="seed for weights, shuffling, dropout, augmentation (default 0)")
    p.add_argument("--workers", type=workers,
                   help="split every batch over N threads, one core each (data parallelism; default: the cores "
                        "available, here %d; 1 turns it off; a resumed run keeps its own unless given)"
                        % parallel.available_cores())
    p.add_argument("--out", type=path, help="output folder (default runs/MODEL, or the checkpoint's folder with --resume); "
                                 "a folder holding another run is refused unless --force")
    p.add_argument("--resume", type=path, metavar="CKPT", help="continue from this checkpoint up to --epochs (a checkpoint of "
                                                    "tinynet finetune continues its fine-tuning)")
    p.add_argument("--force", action="store_true", help="replace the run found in --out (its checkpoint, "
                                                        "metrics and plots are deleted first)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def settings_from(args, ckpt=None):
    """The run's ``TrainSettings``: defaults < recipe < the resumed checkpoint's settings < options given."""
    try:
        options = {k: v for k, v in vars(args).items() if k != "recipe"}
        settings = TrainSettings.from_recipe(args.recipe, ckpt["args"] if ckpt else None, **options)
    except ValueError as e:
        raise CLIError(f"{args.resume}: {e}") from None
    if ckpt and args.model and args.model != ckpt["model_name"]:
        raise CLIError(f"--model {args.model} does not match the checkpoint's model {ckpt['model_name']}")
    if settings.optimizer != "sgd" and settings.momentum:
        raise CLIError("--momentum applies to --optimizer sgd only (Adam has its own betas)")
    return settings


def run(args):
    start = time.perf_counter()
    ckpt = read_checkpoint(args.resume) if args.resume else None
    if ckpt and ckpt["extra"].get("task"):       # written by tinynet finetune: continue the fine-tuning
        return finetuning.resume(args, ckpt)
    settings = settings_from(args, ckpt)
    out = args.out or (os.path.dirname(args.resume) or "." if ckpt else os.path.join("runs", settings.model))
    done = ckpt["epoch"] if ckpt else 0
    if done >= settings.epochs:
        raise CLIError(f"the checkpoint has already trained {done} epochs; ask for more with --epochs {done + 1} "
                       f"or higher")
    claim_out(out, args.resume, args.force)
    set_backend(settings.backend)
    try:
        training_run = build_run(settings, ckpt, source=args.resume)
    except ValueError as e:              # weights or optimizer state that do not fit, a damaged data file
        raise CLIError(str(e)) from None
    position = training_run.position
    if position is not None:
        check_position(position, ckpt, settings, done, len(training_run.train_loader), args.resume)
    settings = training_run.settings         # with the worker count it runs with
    trained_with = ckpt["args"].get("workers") if ckpt else None
    if trained_with is not None and trained_with != settings.workers:
        print(f"resuming with {settings.workers} workers where the checkpoint was trained with {trained_with}: "
              f"the same batches in the same order; the gradients' sums are added in another order, so "
              f"the weights differ from an uninterrupted run by float round-off", flush=True)
    config = settings.as_dict()
    checkpoint = os.path.join(out, "checkpoint.npz")
    at = f" (continuing epoch {position['epoch']} after step {position['step']})" if position else ""
    print(f"training {settings.model} ({training_run.model.num_parameters():,} parameters) on "
          f"{len(training_run.train_set):,} images "
          f"for epochs {done + 1}..{settings.epochs}{at}: {settings.optimizer} lr {settings.lr:g}, batch "
          f"{settings.batch_size}, normalize {settings.normalize}{', augmented' if settings.augment else ''}"
          f"{', cosine schedule' if training_run.scheduler else ''}, "
          f"backend {settings.backend}, {settings.workers} worker{'s' if settings.workers > 1 else ''}; "
          f"output in {out}/", flush=True)
    last, history = {}, training_run.history

    def save(epoch, **extra):
        try:
            training.save_checkpoint(checkpoint, training_run.model, training_run.optimizer, epoch, settings.model,
                                     history, config, **extra)
        except OSError as e:
            kept = "the previous checkpoint is kept" if os.path.isfile(checkpoint) else "nothing was saved"
            raise SaveError(f"could not save {checkpoint}: {e.strerror or e}; {kept}") from None

    def on_epoch_end(record, evaluation):
        last["evaluation"] = evaluation
        save(record["epoch"])

    try:
        with StopRequest() as stop:
            try:
                training_run.fit(on_epoch_end=on_epoch_end, log=lambda s: print(s, flush=True), should_stop=stop)
            except training.TrainingInterrupted as e:
                epochs_done = history[-1]["epoch"] if history else done
                save(epochs_done, interrupted=True, position=e.position)
                print(f"\ninterrupted: saved {checkpoint} ({epochs_done} full epochs and {e.position['step']} of "
                      f"{len(training_run.train_loader)} steps of epoch {e.position['epoch']}; resuming continues "
                      f"exactly there).\ncontinue with: tinynet train --resume {checkpoint} --epochs {settings.epochs}",
                      file=sys.stderr)
                return EXIT_INTERRUPTED
    except (SaveError, training.NonFiniteLossError) as e:
        return failed("train", e)
    except KeyboardInterrupt:           # raised by other code than the Ctrl-C handler: keep the epoch's checkpoint
        kept = (f"{checkpoint} keeps epoch {history[-1]['epoch'] if history else done}"
                if os.path.isfile(checkpoint) else "no epoch finished, nothing saved")
        print(f"\ninterrupted: {kept}.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return write_results(args, training_run, last["evaluation"], out, checkpoint, start)


def write_results(args, run, evaluation, out, checkpoint, start):
    """Write metrics.json and the plots of a finished run and print its result line; exit code 0 or 1."""
    settings, history = run.settings, run.history
    report = metrics.classification_report(evaluation["labels"], evaluation["predictions"])
    files = {"checkpoint": checkpoint, "metrics": os.path.join(out, "metrics.json")}
    try:
        if not args.no_plots:
            files.update(write_plots(out, history, report, run.test_set, evaluation, run.model, settings))
        wall = time.perf_counter() - start
        summary = {"model": settings.model, "parameters": run.model.num_parameters(), "config": settings.as_dict(),
                   "recipe_source": RECIPES[settings.recipe]["source"] if settings.recipe else None,
                   "test_accuracy": report["accuracy"], "test_loss": evaluation["loss"], "wall_seconds": wall,
                   "epochs": history, "report": report, "files": files}
        write_json(files["metrics"], summary)
    except OSError as e:
        return failed("train", f"could not write {e.filename or out}: {e.strerror or e} (the checkpoint "
                               f"{checkpoint} is saved)")
    print(f"test accuracy {report['accuracy']:.2%} (macro F1 {report['macro']['f1']:.4f}) after "
          f"{history[-1]['epoch']} epochs; {wall:.1f} s in all. Wrote: {', '.join(files.values())}")
    return 0


POSITION_KEYS = {"epoch": int, "step": int, "loss_sum": float, "correct": int, "seen": int, "seconds": float}


def check_position(position, ckpt, settings, done, steps, path):
    """An interrupted checkpoint's position fits this run: same data order, a step within the epoch."""
    changed = [k for k in ("batch_size", "limit", "seed", "augment") if getattr(settings, k) != ckpt["args"].get(k)]
    if changed:
        raise CLIError(f"{path} stopped in the middle of epoch {done + 1}; continue it with its own "
                       f"{', '.join('--' + k.replace('_', '-') for k in changed)} (the step it stopped at "
                       f"counts batches of its data)")
    ok = isinstance(position, dict) and set(position) == set(POSITION_KEYS) and all(
        isinstance(position[k], t) and not isinstance(position[k], bool) and (t is float or position[k] >= 0)
        for k, t in POSITION_KEYS.items())
    if not ok or position["epoch"] != done + 1 or position["step"] > steps:
        raise CLIError(f"{path}: its position within epoch {done + 1} is damaged ({position!r})")


def write_plots(out, history, report, test_set, evaluation, model, settings):
    from .. import plots
    files = {"curves": plots.loss_curves(history, os.path.join(out, "curves.png"), title=settings.model,
                                         dropout=has_dropout(model), augment=bool(settings.augment)),
             "confusion": plots.confusion_heatmap(report["confusion_matrix"], os.path.join(out, "confusion.png")),
             "misclassified": plots.misclassified_grid(test_set.arrays[0], evaluation["labels"],
                                                       evaluation["predictions"],
                                                       os.path.join(out, "misclassified.png"))}
    return {**files, **first_conv_filters(model, out)}
