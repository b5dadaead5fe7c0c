"""Datasets, batches and transforms: from uint8 arrays to float32 batches on the model's backend.

    train = data.mnist("train", transform=data.Normalize(0.1307, 0.3081))
    loader = data.DataLoader(train, batch_size=64, shuffle=True, seed=0)
    for images, labels in loader:        # Tensors (64, 1, 28, 28) float32 and (64,) int64
        ...

A batch is made by *slicing*: the loader draws an index array and asks the dataset for all of
those samples at once (``dataset[index_array]``), so there is no Python loop over samples, and
transforms work on whole batches (N, C, H, W). Data stays on the host as NumPy arrays (uint8 for
MNIST: 47 MB instead of 188 MB as float32) and each batch is moved to the backend as it is
handed out. This is host-side code: it uses NumPy directly, through ``backend.get_module``.
"""
from . import backend, random
from .augment import RandomAffine
from .tensor import Tensor

np = backend.get_module("numpy")

__all__ = ["TensorDataset", "DataLoader", "Compose", "ToFloat", "Normalize", "RandomAffine", "mnist", "read_image",
           "mnist_style", "fashion_style", "STYLES", "ImageError", "ImageTooLargeError", "MAX_IMAGE_PIXELS", "MAX_IMAGE_SIDE"]


class TensorDataset:
    """Samples are the rows of equally long arrays: ``dataset[i] = (a[i], b[i], …)``.

    ``i`` may be an integer, a slice or an index array; ``transform`` is applied to the first
    array's part (the inputs) of what is returned, as a batch.
    """

    def __init__(self, *arrays, transform=None):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        arrays = tuple(a.numpy() if isinstance(a, Tensor) else backend.to_numpy(a) for a in arrays)
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError(f"TensorDataset: arrays have different lengths {[len(a) for a in arrays]}")
        self.arrays, self.transform = arrays, transform

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        items = [a[index] for a in self.arrays]
        if self.transform is not None:
            items[0] = self.transform(items[0])
        return tuple(items)


class DataLoader:
    """Batches of a dataset, as Tensors on a backend (``torch.utils.data.DataLoader``).

    ``shuffle``: a new order every epoch. With ``seed`` the order of epoch e is a function of
    (seed, e) alone, so it is the same in every run and a resumed run continues it
    (``set_epoch``); without a seed the order comes from tinynet's generator
    (``tinynet.manual_seed``). ``drop_last`` drops a final batch smaller than ``batch_size``.
    ``backend``: where batches go (default: tinynet's default backend when iterating).
    Floating inputs become float32 and integer labels int64.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, backend=None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.seed, self.backend, self.epoch, self.start_batch = seed, backend, 0, 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch, start_batch=0):
        """Make the next iteration epoch ``epoch`` (its shuffled order, when seeded), beginning at
        batch ``start_batch``: the batches before it are skipped without being read or transformed
        (no random draws), so an epoch stopped after ``start_batch`` steps continues exactly."""
        self.epoch, self.start_batch = epoch, start_batch

    def order(self):
        """The sample indices of the current epoch, in the order they will be served."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return random.permutation(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __iter__(self):
        order, target = self.order(), self.backend or backend.get_backend()
        first, self.start_batch = self.start_batch * self.batch_size, 0
        self.epoch += 1
        for start in range(first, len(self) * self.batch_size, self.batch_size):
            batch = self.dataset[order[start:start + self.batch_size]]
            yield tuple(Tensor(backend.to_backend(_as_model_dtype(a), target)) for a in batch)


def _as_model_dtype(a):
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype != np.float32:
        return a.astype(np.float32)
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    return a


class Compose:
    """Apply transforms in turn: ``Compose([RandomAffine(), Normalize(0.1307, 0.3081)])``."""

    def __init__(self, transforms):
        self.transforms = [t for t in transforms if t is not None]

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


class ToFloat:
    """uint8 pixels 0..255 → float32 0..1 (what torchvision's ``ToTensor`` does to the values)."""

    def __call__(self, x):
        return x.astype(np.float32) * np.float32(1 / 255)

    def __repr__(self):
        return "ToFloat()"


class Normalize:
    """x → (x - mean) / std, per channel: ``Normalize(0.1307, 0.3081)`` or ``Normalize((m,), (s,))``.

    For a batch (N, C, H, W), ``mean`` and ``std`` have one value or C values.
    """

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if self.mean.size == 0 or self.std.size == 0:
            raise ValueError(f"Normalize: mean and std need at least one value each, got {mean!r} and {std!r}")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.std).all()):
            raise ValueError(f"Normalize: mean and std must be finite numbers (in float32), got {mean!r} and {std!r}")
        if not (self.std > 0).all():
            raise ValueError(f"Normalize: std must be positive, got {std!r}")

    def __call__(self, x):
        if self.mean.size == 1:
            return (x - self.mean[0]) / self.std[0]
        shape = (-1, 1, 1)            # the channel axis of (…, C, H, W)
        return (x - self.mean.reshape(shape)) / self.std.reshape(shape)

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def mnist(split, transform=None, limit=None, data_dir=None):
    """The MNIST ``split`` ("train" or "test") as a TensorDataset of images (N, 1, 28, 28) and labels.

    Images are stored as uint8 and each batch becomes float32 in [0, 1] (``ToFloat``) before
    ``transform`` (for example ``Normalize(0.1307, 0.3081)``, or augmentation then Normalize).
    ``limit`` keeps only the first ``limit`` samples (for quick runs).
    """
    from data_tools.mnist import load_mnist
    images, labels = load_mnist(split, data_dir)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"mnist: limit must be at least 1, got {limit}")
        images, labels = images[:limit], labels[:limit]
    return TensorDataset(images[:, None], labels.astype(np.int64), transform=Compose([ToFloat(), transform]))


# --- a user's own digit, made to look like an MNIST one ---------------------------------------

MAX_IMAGE_PIXELS = 4096 * 4096     # read_image refuses larger images (16.8 megapixels; a phone photo has 12)
MAX_IMAGE_SIDE = 16384             # and images longer than this on any side


class ImageError(ValueError):
    """An image file that cannot be used: unreadable, too large, or no decoder (Pillow) installed."""


class ImageTooLargeError(ImageError):
    """An image whose header announces more pixels than tinynet reads (nothing was decoded)."""


def image_size(path):
    """``(width, height)`` from the image file's header alone (Pillow reads no pixels for it).
    ``path`` may also be a binary file object (``io.BytesIO``): it is rewound afterwards."""
    return _header(path)[0]


def _header(path):
    """``((width, height), format)`` of an image file from its header (format: Pillow's "PNG", "JPEG", …)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImageError(f"{path}: reading images needs Pillow, which is not installed "
                         "(pip install pillow; it is one of tinynet's dependencies)") from None
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                header = im.size, im.format
            if hasattr(path, "seek"):
                path.seek(0)
            return header
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{path}: the image has more than {MAX_IMAGE_PIXELS:,} pixels, the most tinynet "
                         "reads; shrink it first") from None
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ImageError(f"{path} is a folder, not an image file") from None
    except Exception as e:       # Pillow raises many types for a file it cannot read
        raise ImageError(f"cannot read {path} as an image ({type(e).__name__}: {e}); use a PNG or JPEG "
                         "file") from None


def read_image(path):
    """An image file (a path, or a binary file object such as ``io.BytesIO``) as grey levels (H, W)
    float32 in [0, 1] (0 = black).

    The size is checked from the file's header before any pixel is decoded: at most
    ``MAX_IMAGE_PIXELS`` pixels and ``MAX_IMAGE_SIDE`` on a side, else ``ImageError`` (so a small
    PNG that would decode to gigabytes is refused at once). Decoding is matplotlib's (through
    Pillow: PNG, JPEG, …). Colour is turned to grey by luminance (0.299 R + 0.587 G +
    0.114 B); a transparent background counts as white paper.
    """
    (width, height), kind = _header(path)
    if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
        raise ImageTooLargeError(f"{path}: the image is {width}x{height} = {width * height:,} pixels; tinynet reads "
                         f"at most {MAX_IMAGE_PIXELS:,} pixels and {MAX_IMAGE_SIDE:,} on a side; shrink it first")
    import matplotlib.image
    try:
        is_file = hasattr(path, "read")          # a file object has no name to tell matplotlib its format
        a = np.asarray(matplotlib.image.imread(path, format=kind.lower() if is_file and kind else None))
    except FileNotFoundError:
        raise
    except Exception as e:       # matplotlib/Pillow raise many types for a file they cannot read
        raise ImageError(f"cannot read {path} as an image ({type(e).__name__}: {e}); "
                         "use a PNG or JPEG file") from None
    a = a.astype(np.float32, copy=False) / (255.0 if a.dtype.kind in "ui" else 1.0)
    if a.ndim == 3:
        grey = a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32) if a.shape[2] >= 3 else a[..., 0]
        if a.shape[2] in (2, 4):                          # alpha: composite onto white
            alpha = a[..., -1]
            grey = alpha * grey + (1 - alpha)
        a = grey
    if a.ndim != 2 or min(a.shape) < 1:
        raise ImageError(f"{path}: expected a 2-D image, got an array of shape {a.shape}")
    return a


def _resize_matrix(src, dst):
    """(dst, src) weights that resample a line of ``src`` pixels to ``dst`` pixels.

    Shrinking averages the source pixels each target pixel covers (area averaging, which is
    anti-aliasing); enlarging interpolates linearly between the nearest two source pixels.
    """
    if dst <= src:
        edges = np.arange(dst + 1) * (src / dst)                 # target pixel i covers [edges[i], edges[i+1])
        left, right = edges[:-1, None], edges[1:, None]
        j = np.arange(src)[None, :]
        overlap = np.clip(np.minimum(right, j + 1) - np.maximum(left, j), 0, None)
        return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)
    centre = (np.arange(dst) + 0.5) * (src / dst) - 0.5          # target centres in source coordinates
    centre = np.clip(centre, 0, src - 1)
    j0 = np.minimum(np.floor(centre).astype(int), max(src - 2, 0))
    frac = centre - j0
    m = np.zeros((dst, src), np.float32)
    m[np.arange(dst), j0] = 1 - frac
    if src > 1:
        m[np.arange(dst), j0 + 1] += frac
    return m


def _ink(image):
    """Steps shared by ``mnist_style`` and ``fashion_style``: ``image`` (H, W) grey levels in [0, 1]
    checked, inverted if its background (the median of the border pixels) is light, the
    background subtracted and scaled so the strongest ink is 1. float32 (H, W), 0 = background."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"expected an image of shape (H, W) with at least one pixel, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("the image holds NaN or infinite grey levels")
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    background = float(np.median(border))
    if background > 0.5:
        a, background = 1.0 - a, 1.0 - background
    a = np.clip(a - background, 0, None)
    if a.max() <= 0:
        raise ValueError("the image is blank: no pixel differs from the background")
    return a / a.max()


def _crop(a, threshold):
    """``a`` cropped to the bounding box of its pixels above ``threshold``."""
    rows, cols = np.flatnonzero((a > threshold).any(axis=1)), np.flatnonzero((a > threshold).any(axis=0))
    return a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fit_square(a, box, odd_pad_first=False):
    """``a`` (h, w) resized, aspect kept, so its longer side is ``box``, centred on the shorter
    one: (box, box). An odd padding puts its extra pixel after the picture, or before it with
    ``odd_pad_first``. The square of side max(h, w) is never built: the padding's columns of the
    resize matrix meet only zeros, so a 1×16384 stroke costs box×16384 numbers, not 16384²."""
    h, w = a.shape
    side = max(h, w)
    m = _resize_matrix(side, box)
    top, left = (side - h + odd_pad_first) // 2, (side - w + odd_pad_first) // 2
    return np.clip(m[:, top:top + h] @ a @ m[:, left:left + w].T, 0, 1)


def mnist_style(image, box=20, size=28):
    """Make a photo or drawing of one digit look like an MNIST sample, the way MNIST was made.

    ``image`` (H, W) grey levels in [0, 1], any size, dark ink on light paper or light on dark.
    1. If the background (the median of the border pixels) is light, invert, so ink is bright.
    2. Subtract the background level and scale so the strongest ink is 1.
    3. Crop to the bounding box of the ink (pixels above 20 % of the maximum).
    4. Pad the shorter side to a square and resize to ``box``×``box`` (20×20), keeping the aspect
       ratio, with area averaging (anti-aliased, as NIST's digits were).
    5. Put it in a ``size``×``size`` (28×28) frame and shift it by whole pixels so its centre of
       mass is at pixel (14, 14), where MNIST's digits have theirs on average.
    Returns float32 (28, 28) in [0, 1], 0 = background; feed it through the training Normalize.
    """
    digit = _fit_square(_crop(_ink(image), 0.2), box)
    out = np.zeros((size, size), np.float32)
    start = (size - box) // 2
    out[start:start + box, start:start + box] = digit
    total = out.sum()
    r = (out.sum(axis=1) @ np.arange(size)) / total
    c = (out.sum(axis=0) @ np.arange(size)) / total
    dy = int(np.clip(round(size / 2 - r), -start, start))     # never push ink out of the frame
    dx = int(np.clip(round(size / 2 - c), -start, start))
    return np.roll(out, (dy, dx), axis=(0, 1))


def fashion_style(image, size=28):
    """Make a photo of one piece of clothing look like a Fashion-MNIST sample, the way
    Fashion-MNIST was made from Zalando's product pictures (light item on a dark background).

    ``image`` (H, W) grey levels in [0, 1], any size, on light or dark background.
    1–2. As ``mnist_style``: inverted if the background is light, background subtracted, the
       strongest pixel scaled to 1.
    3. Trim the edges: crop to the pixels above 2 % of the strongest (Fashion-MNIST trimmed at
       5 % of the colour distance in the original photo, before sharpening; 2 % keeps the faint
       outlines its images have, and stays above a JPEG's noise).
    4. Resize so the longer side is ``size`` (28), keeping the aspect ratio, and centre it on the
       shorter side, an odd padding's extra pixel first, as in Fashion-MNIST: the item fills the
       frame, unlike a digit's 20×20 box, and is not moved by its centre of mass. (Fashion-MNIST
       resized by dropping rows and columns and then sharpened; here the resize averages areas,
       as for digits, and nothing is sharpened.)
    A Fashion-MNIST test image comes back unchanged (correlation above 0.99) for 92 % of them.
    Returns float32 (28, 28) in [0, 1], 0 = background.
    """
    return _fit_square(_crop(_ink(image), 0.02), size, odd_pad_first=True).astype(np.float32)


STYLES = {"mnist": mnist_style, "fashion": fashion_style}     # how a picture is prepared, by data set
