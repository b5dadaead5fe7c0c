"""``tinynet predict CKPT IMAGE…``: classify your own digit images (any size, dark on light or
light on dark), printing the class name and its probability, and the next two guesses."""
import os

from .. import backend, data
from ..predictor import Predictor
from .common import CLIError, checkpoint_classes, model_from_checkpoint, path, read_checkpoint

HELP = "classify your own digit images with a checkpoint"


def add_arguments(p):
    p.add_argument("checkpoint", type=path, help="a checkpoint.npz written by tinynet train or tinynet finetune")
    p.add_argument("images", nargs="+", type=path, metavar="IMAGE", help="image files of one digit each (PNG; any size, "
                   "dark on light or light on dark)")
    p.add_argument("--save-input", type=path, metavar="PNG",
                   help="also save the 28×28 image the model sees (with one IMAGE only: several are refused)")


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


def run(args):
    if args.save_input:
        if len(args.images) > 1:
            raise CLIError(f"--save-input saves the one image the model sees: give one IMAGE, not "
                           f"{len(args.images)}")
        check_save_input(args.save_input)
    ckpt = read_checkpoint(args.checkpoint)
    predictor = Predictor(model_from_checkpoint(ckpt, args.checkpoint), checkpoint_classes(ckpt, args.checkpoint),
                          ckpt["args"].get("normalize", "mnist"))
    names = predictor.class_names
    np = backend.get_module("numpy")
    for image in args.images:
        if not os.path.exists(image):
            raise CLIError(f"image {image} does not exist")
        if not os.path.isfile(image):
            raise CLIError(f"image {image} is not a regular file (a folder, a device or a pipe)")
        try:
            digit, x = predictor.prepare(data.read_image(image))
        except data.ImageError:
            raise                       # its message names the file
        except ValueError as e:
            raise CLIError(f"{image}: {e}") from None
        if args.save_input:
            save_input(args.save_input, digit)
        p = predictor.probabilities(x)
        order = np.argsort(p)[::-1]
        others = ", ".join(f"{names[k]} {p[k]:.3f}" for k in order[1:3])
        print(f"{image}: {names[order[0]]}  (probability {p[order[0]]:.3f}; next: {others})")
    return 0
