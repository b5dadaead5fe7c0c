"""``python -m data_tools info|show|download`` — look at IDX files and fetch data sets.

    python -m data_tools info [FILE...]                  header, dtype, dims, size, MD5, range
    python -m data_tools show FILE --index I [--out x.png]
    python -m data_tools download mnist|fashion-mnist [--dest DIR] [--mirror URL]

Without FILE, ``info`` describes the four bundled MNIST files; it exits with status 1 when a file
named like a published MNIST or Fashion-MNIST file does not have its MD5.  Errors print one
message (no traceback) and exit with status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from data_tools import download as dl
from data_tools.idx import IDXError, describe_magic, encode_header, idx_bytes, read_idx
from data_tools.mnist import FILES, MD5, MNIST_DIR

ASCII_RAMP = " .:-=+*#%@"  # dark to bright


class CLIError(Exception):
    """A user mistake worth one line of explanation."""


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (CLIError, IDXError, dl.DownloadError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_tools", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="describe IDX files (default: the bundled MNIST)")
    info.add_argument("files", nargs="*", metavar="FILE")
    info.set_defaults(run=cmd_info)

    show = sub.add_parser("show", help="draw one sample as ASCII art or a PNG")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--index", "-i", type=int, default=0, help="which sample (default 0)")
    show.add_argument("--out", "-o", metavar="PNG", help="write a PNG instead of ASCII art")
    show.set_defaults(run=cmd_show)

    get = sub.add_parser("download", help="fetch a data set from its mirrors")
    get.add_argument("dataset", choices=sorted(dl.MIRRORS))
    get.add_argument("--dest", metavar="DIR", help="folder for the files "
                     "(default: $TINYNET_DATA/<dataset>, else ./data/<dataset>)")
    get.add_argument("--mirror", metavar="URL", action="append", default=[],
                     help="a base URL to try before the canonical mirrors (repeatable)")
    get.add_argument("--timeout", type=float, default=30.0, help="seconds per connection")
    get.set_defaults(run=cmd_download)
    return parser


def cmd_info(args) -> int:
    """Describe each file; exit status 2 if one cannot be read, 1 if one named like a published
    data set file does not have its MD5 (damaged, or another file under that name)."""
    files = args.files or [MNIST_DIR / (name + ".gz") for split in FILES for name in FILES[split]]
    status = 0
    for path in files:
        try:
            text, md5 = _describe(path)
        except (IDXError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            status = 2
            continue
        print(text)
        problem = checksum_problem(path, md5)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            status = status or 1
    return status


def checksum_problem(path, md5):
    """Why a file named like a published data set file (``train-images-idx3-ubyte[.gz]``) is not
    one: its MD5 is none of the published ones for that name; None when it is, or is named otherwise."""
    name = Path(path).name.removesuffix(".gz")
    published = {ds: table[name] for ds, table in MD5.items() if name in table}
    if not published:
        return None
    if md5 in published.values():
        return None
    return (f"{_shown(path)}: MD5 of the decompressed bytes is {md5}, but a file named {name} should have "
            + " or ".join(f"{h} ({ds})" for ds, h in published.items()) + "; the file is damaged or is not what "
            "its name says")


def describe_file(path) -> str:
    """The ``info`` report for one file."""
    return _describe(path)[0]


def _describe(path):
    """(the ``info`` report, the MD5 of the decompressed bytes) of one file."""
    array = read_idx(path)
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    header = encode_header(array.dtype, array.shape)
    md5 = hashlib.md5(idx_bytes(array)).hexdigest()
    known = [f"{ds} {name}" for ds, table in MD5.items() for name, h in table.items() if h == md5]
    samples = f"{array.shape[0]:,} samples of {' x '.join(map(str, array.shape[1:]))}, " if array.ndim > 1 else ""
    size = len(header) + array.nbytes
    stored = f"gzip, {os.path.getsize(path):,} bytes on disk" if gzipped else "raw (not compressed)"
    lo, hi = (array.min(), array.max())
    text = "\n".join([
        f"{_shown(path)}",
        f"  magic   {describe_magic(header[:4])}",
        f"  stored  {stored}",
        f"  dtype   {array.dtype}",
        f"  dims    {' x '.join(map(str, array.shape))}",
        f"  size    {size:,} bytes = {len(header)} header + {array.nbytes:,} data ({samples}{array.size:,} values)",
        f"  md5     {md5} (decompressed bytes{'; published ' + ', '.join(known) if known else ''})",
        f"  range   {lo} .. {hi}",
    ])
    return text, md5


def cmd_show(args) -> int:
    array = read_idx(args.file)
    n = array.shape[0]
    if not -n <= args.index < n:
        raise CLIError(f"--index {args.index} is out of range: {args.file} has {n} samples (0..{n - 1})")
    sample = array[args.index]
    label = _companion_label(args.file, args.index)
    title = f"{_shown(args.file)} [{args.index}]" + (f"  label {label}" if label is not None else "")
    if sample.ndim == 0:
        print(f"{title}: {sample}")
        return 0
    if sample.ndim != 2:
        raise CLIError(f"sample {args.index} has shape {sample.shape}; only 2-D samples can be drawn")
    if args.out:
        print(f"wrote {save_png(sample, args.out, title)}")
    else:
        print(title)
        print(ascii_art(sample))
    return 0


def ascii_art(image: np.ndarray) -> str:
    """A 2-D array as text, two characters per pixel, brighter values as denser characters."""
    image = image.astype(np.float64)
    lo, hi = (0.0, 255.0) if image.min() >= 0 and image.max() <= 255 else (image.min(), image.max())
    scaled = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    levels = np.clip((scaled * len(ASCII_RAMP)).astype(int), 0, len(ASCII_RAMP) - 1)
    return "\n".join("".join(ASCII_RAMP[v] * 2 for v in row) for row in levels)


def save_png(image: np.ndarray, out, title: str) -> Path:
    """Draw ``image`` into ``out`` and return the path written: ``out`` itself, or ``out.png``
    when it has no extension (matplotlib picks the format from the extension, PNG without one)."""
    out = Path(out)
    if not out.suffix:
        out = out.with_name(out.name + ".png")
    import matplotlib  # imported only here: the rest of data_tools needs numpy alone

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(image, cmap="gray_r")
    ax.set_title(title, fontsize=7)
    ax.axis("off")
    try:
        fig.savefig(out, dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out


def cmd_download(args) -> int:
    dest = Path(args.dest) if args.dest else dl.default_dest(args.dataset)
    mirrors = args.mirror + dl.MIRRORS[args.dataset]
    dl.download(args.dataset, dest, mirrors=mirrors, timeout=args.timeout)
    loader = "load_mnist" if args.dataset == "mnist" else "load_fashion_mnist"
    print(f"{args.dataset}: all files in {dest}; load them with "
          f"data_tools.mnist.{loader}('train', data_dir={str(dest)!r})")
    return 0


def _companion_label(path, index):
    """The label of sample ``index`` when ``path`` is an images file with a labels file beside it."""
    path = Path(path)
    if "images-idx3" not in path.name:
        return None
    labels_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    try:
        labels = read_idx(labels_path)
        return int(labels[index])
    except (OSError, IDXError, IndexError, ValueError, TypeError):
        return None


def _shown(path) -> str:
    """A path as short as it can be said: relative to the current folder when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
