"""``tinynet eval CKPT``: accuracy, per-class precision/recall/F1 and the confusion matrix of a
checkpoint on MNIST, or on its own task's images for a model of ``tinynet finetune``."""
import json
import os

from .. import data, metrics, parallel, train as training
from ..runs import make_normalize
from ..tasks import task_split
from .common import (CLIError, checkpoint_classes, model_from_checkpoint, path, positive_int, read_checkpoint,
                     set_backend, workers)

HELP = "evaluate a checkpoint: accuracy, per-class precision/recall/F1, confusion matrix"


def add_arguments(p):
    p.add_argument("checkpoint", type=path, help="a checkpoint.npz written by tinynet train or tinynet finetune")
    p.add_argument("--split", choices=["test", "train"], default="test", help="default test")
    p.add_argument("--limit", type=positive_int, help="only the first N images")
    p.add_argument("--batch-size", type=positive_int, default=500)
    p.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    p.add_argument("--data-dir", type=path, help="where Fashion-MNIST is, for a model fine-tuned on it (default: "
                                      "$TINYNET_DATA, then the search path)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--workers", type=workers, help="split every batch over N threads, one core each (default: the "
                                                   "cores available, 1 with --backend cupy)")


def run(args):
    if args.backend == "cupy" and (args.workers or 1) > 1:
        raise CLIError(f"--workers {args.workers} splits batches over CPU cores; with --backend cupy the GPU does "
                       "the work (use --workers 1)")
    n = args.workers or (1 if args.backend == "cupy" else min(parallel.available_cores(), parallel.MAX_WORKERS))
    set_backend(args.backend)
    ckpt = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, args.checkpoint)
    names = checkpoint_classes(ckpt, args.checkpoint)
    normalize = make_normalize(ckpt["args"].get("normalize", "mnist"))
    task = ckpt["extra"].get("task")
    if task:                              # fine-tuned: its own task's images and labels
        try:
            dataset = task_split(task, args.split, normalize, args.data_dir or saved_data_dir(ckpt), args.limit)
        except (FileNotFoundError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0].rstrip(":")
            raise CLIError(f"{args.checkpoint} was fine-tuned for {task!r}: {first} (give --data-dir; see the "
                           f"README's Data section)") from None
    elif len(names) != 10:
        raise CLIError(f"{args.checkpoint}: its model tells {len(names)} classes apart but names no task to "
                       f"evaluate it on (MNIST has 10); a model of tinynet finetune records its task")
    else:
        dataset = data.mnist(args.split, normalize, limit=args.limit)
    evaluation = training.evaluate(model, data.DataLoader(dataset, args.batch_size), workers=n)
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
    """The --data-dir a fine-tuning run used, if that folder still exists (else None: the search
    path; any copy found there is checked against the same published MD5s)."""
    folder = ckpt["args"].get("data_dir")
    return folder if isinstance(folder, str) and os.path.isdir(folder) else None
