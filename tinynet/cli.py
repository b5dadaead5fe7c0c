"""The ``tinynet`` command: ``tinynet train|eval|predict|summary …`` (``tinynet COMMAND --help``).

Each sub-command is two functions, ``add_arguments(parser)`` and ``run(args) -> exit code``,
registered in ``COMMANDS`` with one ``register(...)`` line at the bottom of this file; another
module adds its own command the same way (``register("finetune", help, add, run)``).

Errors a user can fix (a bad option, a missing file, a checkpoint that is not one) print one line
``tinynet train: error: …`` on stderr and exit with code 2, without a traceback.
"""
import argparse
import json
import math
import os
import sys
import time

from . import backend, data, metrics, models, nn, optim, run_folder, train as training
from .interrupt import StopRequest
from .tensor import Tensor, no_grad

COMMANDS = {}      # name -> (help, add_arguments, run)

NORMALIZE = {"mnist": (0.1307, 0.3081), "half": (0.5, 0.5), "none": None}


class CLIError(Exception):
    """A problem in what the user asked for; printed as one line, exit code 2."""


def _file_errors():
    """The library's errors about a file that cannot be used (their messages are one line naming it)."""
    from data_tools.idx import IDXError
    from data_tools.mnist import ChecksumError, DatasetNotFoundError
    from .serialization import CheckpointError
    return (CheckpointError, ChecksumError, DatasetNotFoundError, IDXError, data.ImageError)


FILE_ERRORS = _file_errors()    # printed like a CLIError, exit code 2


class SaveError(Exception):
    """A checkpoint could not be written (disk full, permission); printed as one line, exit code 1."""


def register(name, help, add_arguments, run):
    """Make ``tinynet NAME`` call ``run(args)`` with the options ``add_arguments(parser)`` declares."""
    COMMANDS[name] = (help, add_arguments, run)


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line instead of argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


# --- option types: each rejects a bad value with a message that says what is allowed --------

def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1e-3, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def normalization(text):
    """``mnist``, ``half``, ``none`` or ``MEAN,STD``."""
    if text in NORMALIZE:
        return text
    try:
        mean, std = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected mnist, half, none or MEAN,STD (such as 0.1307,0.3081), "
                                         f"got {text!r}") from None
    if not std > 0:
        raise argparse.ArgumentTypeError(f"the standard deviation must be positive, got {std}")
    return f"{mean},{std}"


def make_normalize(name):
    """The Normalize transform an option value stands for (None for ``none``: pixels/255 only)."""
    mean_std = NORMALIZE[name] if name in NORMALIZE else tuple(float(v) for v in name.split(","))
    return None if mean_std is None else data.Normalize(*mean_std)


def set_backend(name):
    try:
        backend.set_backend(name)
    except backend.BackendUnavailable as e:
        raise CLIError(str(e)) from None


def read_checkpoint(path):
    """The checkpoint at ``path``, checked from its types to its values against its model
    (``train.load_model``: another model's weights, NaN weights, a bomb are one-line errors)."""
    if not os.path.exists(path):
        raise CLIError(f"checkpoint {path} does not exist")
    try:
        _, ckpt = training.load_model(path)
    except ValueError as e:
        raise CLIError(str(e)) from None
    return ckpt


def checkpoint_classes(ckpt, path):
    """The class names of a checkpoint's model: a fine-tuned one stores them (``Sneaker``, …, or
    ``5``…``9``); a model trained by ``tinynet train`` tells MNIST's ten digits apart."""
    names = ckpt["extra"].get("class_names")
    if names is None:
        return [str(d) for d in range(10)]
    count = ckpt["extra"].get("num_classes", len(names) if isinstance(names, list) else None)
    if (not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names)
            or count != len(names)):
        raise CLIError(f"{path}: its class names are damaged (expected {count} names as text, got {names!r})")
    return names


def load_weights(model, ckpt, path):
    """Load the checkpoint's weights into ``model`` (from ``models.build``), after giving it the
    checkpoint's number of classes (a fine-tuned head); a checkpoint that does not fit is a CLIError."""
    from .finetune import replace_head
    classes = len(checkpoint_classes(ckpt, path))
    if getattr(model[-1], "out_features", classes) != classes:
        replace_head(model, classes)
    try:
        model.load_state_dict(ckpt["model"])
    except ValueError as e:
        raise CLIError(f"{path} says it holds a {ckpt['model_name']!r} model, but its weights do not fit "
                       f"models.{ckpt['model_name']}(): {e}") from None
    return model


def model_from_checkpoint(ckpt, path):
    model = load_weights(models.build(ckpt["model_name"]), ckpt, path)
    model.eval()
    return model


def seed(text):
    """A seed: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


# --- tinynet train -------------------------------------------------------------------------

TRAIN_DEFAULTS = dict(model="cnn", optimizer="adam", lr=1e-3, momentum=0.0, adam_eps=1e-8, batch_size=64,
                      epochs=2, normalize="mnist", augment=False, schedule="none", backend="numpy", limit=None,
                      seed=0)


def train_arguments(p):
    p.add_argument("--model", choices=list(models.MODELS), help="the model (default cnn; see: tinynet summary)")
    p.add_argument("--recipe", choices=list(models.RECIPES),
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
    p.add_argument("--out", help="output folder (default runs/MODEL, or the checkpoint's folder with --resume); "
                                 "a folder holding another run is refused unless --force")
    p.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint up to --epochs (a checkpoint of "
                                                    "tinynet finetune continues its fine-tuning)")
    p.add_argument("--force", action="store_true", help="replace the run found in --out (its checkpoint, "
                                                        "metrics and plots are deleted first)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def train_config(args, ckpt=None):
    """defaults < recipe < the resumed checkpoint's settings < options given on the command line."""
    config = dict(TRAIN_DEFAULTS)
    recipe = args.recipe or (ckpt["args"].get("recipe") if ckpt else None)
    if recipe:
        config.update({k: v for k, v in models.RECIPES[recipe].items() if k != "source"})
    if ckpt:
        config.update({k: v for k, v in ckpt["args"].items() if k in TRAIN_DEFAULTS})
        if args.model and args.model != ckpt["model_name"]:
            raise CLIError(f"--model {args.model} does not match the checkpoint's model {ckpt['model_name']}")
    config.update({k: v for k, v in vars(args).items() if k in TRAIN_DEFAULTS and v is not None})
    config["recipe"] = recipe
    if config["optimizer"] != "sgd" and config["momentum"]:
        raise CLIError("--momentum applies to --optimizer sgd only (Adam has its own betas)")
    return config


def make_optimizer(config, params):
    if config["optimizer"] == "sgd":
        return optim.SGD(params, lr=config["lr"], momentum=config["momentum"])
    return optim.Adam(params, lr=config["lr"], eps=config["adam_eps"])


def run_train(args):
    start = time.perf_counter()
    ckpt = read_checkpoint(args.resume) if args.resume else None
    if ckpt and ckpt["extra"].get("task"):       # written by tinynet finetune: continue the fine-tuning
        from .cli_finetune import resume_finetune
        return resume_finetune(args, ckpt)
    config = train_config(args, ckpt)
    out = args.out or (os.path.dirname(args.resume) or "." if ckpt else os.path.join("runs", config["model"]))
    done = ckpt["epoch"] if ckpt else 0
    position = ckpt["extra"].get("position") if ckpt else None
    if done >= config["epochs"]:
        raise CLIError(f"the checkpoint has already trained {done} epochs; ask for more with --epochs {done + 1} or higher")
    claim_out(out, args.resume, args.force)
    set_backend(config["backend"])
    from . import random
    random.manual_seed(config["seed"])
    model = models.build(config["model"])
    if ckpt:
        load_weights(model, ckpt, args.resume)
    optimizer = make_optimizer(config, model.parameters())
    history = []
    if ckpt:
        if ckpt["optimizer"] is not None:
            try:
                optimizer.load_state_dict(ckpt["optimizer"])
            except (ValueError, KeyError, TypeError) as e:
                raise CLIError(f"{args.resume}: its optimizer state does not fit --optimizer "
                               f"{config['optimizer']}: {e}") from None
        history = ckpt["history"]
        training.restore_rng(ckpt)
    scheduler = None
    if config["schedule"] == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"], last_epoch=done - 1)
    normalize = make_normalize(config["normalize"])
    train_transform = data.Compose([data.RandomAffine() if config["augment"] else None, normalize])
    train_set = data.mnist("train", train_transform, limit=config["limit"])
    test_set = data.mnist("test", normalize, limit=config["limit"])
    train_loader = data.DataLoader(train_set, config["batch_size"], shuffle=True, seed=config["seed"])
    test_loader = data.DataLoader(test_set, 500)
    if position is not None:
        check_position(position, ckpt, config, done, len(train_loader), args.resume)
    checkpoint = os.path.join(out, "checkpoint.npz")
    at = f" (continuing epoch {position['epoch']} after step {position['step']})" if position else ""
    print(f"training {config['model']} ({model.num_parameters():,} parameters) on {len(train_set):,} images "
          f"for epochs {done + 1}..{config['epochs']}{at}: {config['optimizer']} lr {config['lr']:g}, batch "
          f"{config['batch_size']}, normalize {config['normalize']}{', augmented' if config['augment'] else ''}"
          f"{', cosine schedule' if scheduler else ''}, "
          f"backend {config['backend']}; output in {out}/", flush=True)
    last = {}

    def save(epoch, **extra):
        try:
            training.save_checkpoint(checkpoint, model, optimizer, epoch, config["model"], history, config, **extra)
        except OSError as e:
            kept = "the previous checkpoint is kept" if os.path.isfile(checkpoint) else "nothing was saved"
            raise SaveError(f"could not save {checkpoint}: {e.strerror or e}; {kept}") from None

    def on_epoch_end(record, evaluation):
        last["evaluation"] = evaluation
        save(record["epoch"])

    try:
        with StopRequest() as stop:
            try:
                training.fit(model, optimizer, train_loader, test_loader, config["epochs"], start_epoch=done,
                             history=history, on_epoch_end=on_epoch_end, log=lambda s: print(s, flush=True),
                             scheduler=scheduler, position=position, should_stop=stop)
            except training.TrainingInterrupted as e:
                epochs_done = history[-1]["epoch"] if history else done
                save(epochs_done, interrupted=True, position=e.position)
                print(f"\ninterrupted: saved {checkpoint} ({epochs_done} full epochs and {e.position['step']} of "
                      f"{len(train_loader)} steps of epoch {e.position['epoch']}; resuming continues exactly there)."
                      f"\ncontinue with: tinynet train --resume {checkpoint} --epochs {config['epochs']}",
                      file=sys.stderr)
                return 130
    except SaveError as e:
        print(f"tinynet train: error: {e}", file=sys.stderr)
        return 1
    except training.NonFiniteLossError as e:
        print(f"tinynet train: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:           # raised by other code than the Ctrl-C handler: keep the epoch's checkpoint
        kept = (f"{checkpoint} keeps epoch {history[-1]['epoch'] if history else done}"
                if os.path.isfile(checkpoint) else "no epoch finished, nothing saved")
        print(f"\ninterrupted: {kept}.", file=sys.stderr)
        return 130
    evaluation = last["evaluation"]
    report = metrics.classification_report(evaluation["labels"], evaluation["predictions"])
    files = {"checkpoint": checkpoint, "metrics": os.path.join(out, "metrics.json")}
    try:
        if not args.no_plots:
            files.update(write_plots(out, history, report, test_set, evaluation, model, config["model"]))
        wall = time.perf_counter() - start
        summary = {"model": config["model"], "parameters": model.num_parameters(), "config": config,
                   "recipe_source": models.RECIPES[config["recipe"]]["source"] if config["recipe"] else None,
                   "test_accuracy": report["accuracy"], "test_loss": evaluation["loss"], "wall_seconds": wall,
                   "epochs": history, "report": report, "files": files}
        write_json(files["metrics"], summary)
    except OSError as e:
        print(f"tinynet train: error: could not write {e.filename or out}: {e.strerror or e} (the checkpoint "
              f"{checkpoint} is saved)", file=sys.stderr)
        return 1
    print(f"test accuracy {report['accuracy']:.2%} (macro F1 {report['macro']['f1']:.4f}) after "
          f"{history[-1]['epoch']} epochs; {wall:.1f} s in all. Wrote: {', '.join(files.values())}")
    return 0


POSITION_KEYS = {"epoch": int, "step": int, "loss_sum": float, "correct": int, "seen": int, "seconds": float}


def check_position(position, ckpt, config, done, steps, path):
    """An interrupted checkpoint's position fits this run: same data order, a step within the epoch."""
    changed = [k for k in ("batch_size", "limit", "seed", "augment") if config[k] != ckpt["args"].get(k)]
    if changed:
        raise CLIError(f"{path} stopped in the middle of epoch {done + 1}; continue it with its own "
                       f"{', '.join('--' + k.replace('_', '-') for k in changed)} (the step it stopped at "
                       f"counts batches of its data)")
    ok = isinstance(position, dict) and set(position) == set(POSITION_KEYS) and all(
        isinstance(position[k], t) and not isinstance(position[k], bool) and (t is float or position[k] >= 0)
        for k, t in POSITION_KEYS.items())
    if not ok or position["epoch"] != done + 1 or position["step"] > steps:
        raise CLIError(f"{path}: its position within epoch {done + 1} is damaged ({position!r})")


def write_json(path, obj):
    """Write ``obj`` as JSON to ``path`` through a temporary file, so a failure leaves the old file."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def claim_out(out, resuming=None, force=False, command="tinynet train"):
    """Check ``--out`` before any work: writable, and not holding another run (see ``tinynet.run_folder``)."""
    try:
        removed = run_folder.claim(out, resuming, force, command)
    except run_folder.RunFolderError as e:
        raise CLIError(f"--out {e}") from None
    except OSError as e:
        raise CLIError(f"--out {out}: {e.strerror or e}") from None
    if removed:
        print(f"removed {len(removed)} leftover file(s) of an interrupted save from {out}/", file=sys.stderr)


def write_plots(out, history, report, test_set, evaluation, model, name):
    from . import plots
    files = {"curves": plots.loss_curves(history, os.path.join(out, "curves.png"), title=name),
             "confusion": plots.confusion_heatmap(report["confusion_matrix"], os.path.join(out, "confusion.png")),
             "misclassified": plots.misclassified_grid(test_set.arrays[0], evaluation["labels"],
                                                       evaluation["predictions"], os.path.join(out, "misclassified.png"))}
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first_conv is not None:
        files["filters"] = plots.first_layer_filters(first_conv.weight, os.path.join(out, "filters.png"))
    return files


# --- tinynet eval --------------------------------------------------------------------------

def eval_arguments(p):
    p.add_argument("checkpoint", help="a checkpoint.npz written by tinynet train or tinynet finetune")
    p.add_argument("--split", choices=["test", "train"], default="test", help="default test")
    p.add_argument("--limit", type=positive_int, help="only the first N images")
    p.add_argument("--batch-size", type=positive_int, default=500)
    p.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    p.add_argument("--data-dir", help="where Fashion-MNIST is, for a model fine-tuned on it (default: "
                                      "$TINYNET_DATA, then the search path)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run_eval(args):
    set_backend(args.backend)
    ckpt = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, args.checkpoint)
    names = checkpoint_classes(ckpt, args.checkpoint)
    normalize = make_normalize(ckpt["args"].get("normalize", "mnist"))
    task = ckpt["extra"].get("task")
    if task:                              # fine-tuned: its own task's images and labels
        from .cli_finetune import task_split
        try:
            dataset = task_split(task, args.split, normalize, args.data_dir or saved_data_dir(ckpt), args.limit)
        except (FileNotFoundError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0].rstrip(":")
            raise CLIError(f"{args.checkpoint} was fine-tuned for {task!r}: {first} (give --data-dir; see the "
                           f"README's Data section)") from None
    else:
        dataset = data.mnist(args.split, normalize, limit=args.limit)
    evaluation = training.evaluate(model, data.DataLoader(dataset, args.batch_size))
    report = metrics.classification_report(evaluation["labels"], evaluation["predictions"], num_classes=len(names))
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        what = f"{ckpt['model_name']} fine-tuned for {task} ({ckpt['extra'].get('method')})" if task \
            else ckpt["model_name"]
        print(f"{what} after {ckpt['epoch']} epochs, {task or 'MNIST'} {args.split} ({len(dataset):,} images), "
              f"mean loss {evaluation['loss']:.4f}")
        print(metrics.format_report(report, class_names=names if task else None))
    return 0


def saved_data_dir(ckpt):
    """The --data-dir a fine-tuning run used (None when it used the search path)."""
    folder = ckpt["args"].get("data_dir")
    return folder if isinstance(folder, str) else None


# --- tinynet predict -----------------------------------------------------------------------

def predict_arguments(p):
    p.add_argument("checkpoint", help="a checkpoint.npz written by tinynet train or tinynet finetune")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files of one digit each (PNG; any size, "
                   "dark on light or light on dark)")
    p.add_argument("--save-input", metavar="PNG", help="also save the 28×28 image the model sees (one IMAGE only)")


def check_save_input(path):
    """``--save-input`` goes into a folder that exists (checked before any work)."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise CLIError(f"--save-input {path}: the folder {folder} does not exist")


def save_input(path, digit):
    import matplotlib.image
    try:
        matplotlib.image.imsave(path, digit, cmap="gray", vmin=0, vmax=1)
    except (OSError, ValueError, KeyError) as e:      # KeyError: Pillow knows no such format
        raise CLIError(f"--save-input {path}: cannot write it ({getattr(e, 'strerror', None) or e})") from None


def run_predict(args):
    if args.save_input:
        check_save_input(args.save_input)
    ckpt = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, args.checkpoint)
    names = checkpoint_classes(ckpt, args.checkpoint)
    normalize = make_normalize(ckpt["args"].get("normalize", "mnist"))
    np = backend.get_module("numpy")
    for path in args.images:
        if not os.path.isfile(path):
            raise CLIError(f"image {path} does not exist")
        try:
            digit = data.mnist_style(data.read_image(path))
        except data.ImageError:
            raise                       # its message names the file
        except ValueError as e:
            raise CLIError(f"{path}: {e}") from None
        if args.save_input:
            save_input(args.save_input, digit)
        x = digit[None, None]
        x = normalize(x) if normalize else x
        with no_grad():
            logits = model(Tensor(backend.to_backend(x.astype(np.float32), backend.get_backend())))
        p = backend.to_numpy(logits.softmax(axis=1).data)[0]
        order = np.argsort(p)[::-1]
        others = ", ".join(f"{names[k]} {p[k]:.3f}" for k in order[1:3])
        print(f"{path}: {names[order[0]]}  (probability {p[order[0]]:.3f}; next: {others})")
    return 0


# --- tinynet summary -----------------------------------------------------------------------

def summary_arguments(p):
    p.add_argument("model", choices=list(models.MODELS) + ["all"], help="a model name, or all")
    p.add_argument("--markdown", action="store_true", help="one Markdown table row per model (for the README)")


def run_summary(args):
    names = list(models.MODELS) if args.model == "all" else [args.model]
    if args.markdown:
        print("| model | parameters | layers and their output shapes (ReLU and Dropout keep the shape) |\n"
              "|---|---:|---|")
    for name in names:
        model = models.build(name)
        if args.markdown:
            rows = [f"{layer} **{'×'.join(map(str, out))}**" for _, layer, out, _ in models.summary(model)
                    if layer not in ("ReLU", "Flatten") and not layer.startswith("Dropout")]
            print(f"| `{name}` | {model.num_parameters():,} | " + " → ".join(rows) + " |")
        else:
            print(models.format_summary(model, name) + ("\n" if len(names) > 1 else ""))
    return 0


register("train", "train a model on MNIST (checkpoint, metrics.json and plots in --out)", train_arguments, run_train)
register("eval", "evaluate a checkpoint: accuracy, per-class precision/recall/F1, confusion matrix",
         eval_arguments, run_eval)
register("predict", "classify your own digit images with a checkpoint", predict_arguments, run_predict)
register("summary", "print a model's layers, output shapes and parameter counts", summary_arguments, run_summary)

from .cli_finetune import finetune_arguments, run_finetune  # noqa: E402  (a module of its own; uses the helpers above)
register("finetune", "fine-tune a checkpoint for a new task (digits 5-9, Fashion-MNIST): scratch, full, head or lora",
         finetune_arguments, run_finetune)


def check_arguments(p):
    from .grading.cli import add_arguments
    add_arguments(p)


def run_check(args):
    from .grading.cli import run
    return run(args)


register("check", "grade exercise files, or a class folder into a CSV: PASS/FAIL for each part, with hints", check_arguments, run_check)


def build_parser():
    parser = _Parser(prog="tinynet", description="Train and use the tinynet MNIST models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help, description=help))
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code = COMMANDS[args.command][2](args)
        if code == 130 and argv is None:   # the program ends after Ctrl-C: another one must not kill it on the way out
            import signal
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        return code
    except (CLIError,) + FILE_ERRORS as e:
        print(f"tinynet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ntinynet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
