"""``tinynet predict CKPT IMAGE…``: classify your own digit images (any size, dark on light or
light on dark), printing the class name and its probability, and the next two guesses."""
import os

from .. import backend, data, viz
from ..predictor import Predictor
from ..tasks import image_style
from ..viz.figures import FORMATS as EXPLAIN_FORMATS
from ..viz.files import check_out_path
from .common import (MAX_IMAGE_SCALE, CLIError, checkpoint_classes, image_scale, model_from_checkpoint, path,
                     read_checkpoint)

HELP = "classify your own digit images with a checkpoint"
SAVE_INPUT_SCALE = 10      # --save-input draws 28×28 pixels as 280×280 unless --save-input-scale says otherwise


def add_arguments(p):
    p.add_argument("checkpoint", type=path, help="a checkpoint.npz written by tinynet train or tinynet finetune")
    p.add_argument("images", nargs="+", type=path, metavar="IMAGE", help="image files of one digit each (PNG; any size, "
                   "dark on light or light on dark)")
    p.add_argument("--save-input", type=path, metavar="PNG",
                   help="also save the 28×28 image the model sees, enlarged --save-input-scale times (with one "
                        "IMAGE only: several are refused)")
    p.add_argument("--save-input-scale", type=image_scale, metavar="K",
                   help=f"--save-input writes each of the 28×28 pixels as a K×K block (nearest neighbour, no "
                        f"smoothing): 1 to {MAX_IMAGE_SCALE}, default {SAVE_INPUT_SCALE} (280×280); 1 gives the raw "
                        f"28×28")
    p.add_argument("--explain", type=path, metavar="PNG",
                   help="also write one figure of how the model read the image: the image, what the model saw, "
                        "the probabilities, the saliency map, the first layer's feature maps (.png, .svg or .pdf; "
                        "one IMAGE only)")


def check_save_input(path):
    """``--save-input`` goes into a folder that exists (checked before any work)."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise CLIError(f"--save-input {path}: the folder {folder} does not exist")


def check_explain(args):
    """``--explain``: one IMAGE, a picture file name in a folder that exists, not one of the inputs."""
    if len(args.images) > 1:
        raise CLIError(f"--explain draws the one image the model read: give one IMAGE, not {len(args.images)}")
    try:
        check_out_path(args.explain, EXPLAIN_FORMATS, "--explain")
    except ValueError as e:
        raise CLIError(str(e)) from None
    for other in (args.checkpoint, *args.images, args.save_input):
        if other and os.path.realpath(other) == os.path.realpath(args.explain):
            raise CLIError(f"--explain {args.explain} is {other}, an input or another output; give another file name")


def save_input(path, digit, scale=1):
    """Write ``digit`` (28×28 in [0, 1], white ink on black as in MNIST) as a grey PNG, each pixel a
    ``scale``×``scale`` block (nearest neighbour: the pixels the model sees, not a smoothed version)."""
    import matplotlib.image
    big = digit.repeat(scale, axis=0).repeat(scale, axis=1)
    try:
        matplotlib.image.imsave(path, big, cmap="gray", vmin=0, vmax=1)
    except (OSError, ValueError, KeyError) as e:      # KeyError: Pillow knows no such format
        raise CLIError(f"--save-input {path}: cannot write it ({getattr(e, 'strerror', None) or e})") from None


def run(args):
    if args.save_input_scale is not None and not args.save_input:
        raise CLIError("--save-input-scale says how big --save-input draws its image: give --save-input PNG too")
    if args.save_input:
        if len(args.images) > 1:
            raise CLIError(f"--save-input saves the one image the model sees: give one IMAGE, not "
                           f"{len(args.images)}")
        check_save_input(args.save_input)
    if args.explain:
        check_explain(args)
    ckpt = read_checkpoint(args.checkpoint)
    predictor = Predictor(model_from_checkpoint(ckpt, args.checkpoint), checkpoint_classes(ckpt, args.checkpoint),
                          ckpt["args"].get("normalize", "mnist"), style=image_style(ckpt["extra"].get("task")))
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
            save_input(args.save_input, digit, args.save_input_scale or SAVE_INPUT_SCALE)
        p = predictor.probabilities(x)
        order = np.argsort(p)[::-1]
        others = ", ".join(f"{names[k]} {p[k]:.3f}" for k in order[1:3])
        print(f"{image}: {names[order[0]]}  (probability {p[order[0]]:.3f}; next: {others})")
        if args.explain:
            try:
                viz.explain(predictor.model, image, args.explain, classes=names, normalize=predictor.normalize,
                            style=predictor.style)
            except OSError as e:
                raise CLIError(str(e)) from None
            print(f"wrote {args.explain}")
    return 0
