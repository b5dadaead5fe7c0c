"""Random rotation, translation and scaling of a whole batch at once, by bilinear sampling.

The three augmentations article 000 names (§3.1, L40: "随机旋转、平移、缩放") are one affine map
each, so one warp does all three. For an image of H×W pixels with centre c = ((W-1)/2, (H-1)/2),
in (x = column, y = row) coordinates, a sample is rotated by θ (counter-clockwise on screen, as
torchvision), scaled by s about the centre, then shifted by t = (tx, ty) pixels:

    p_out = c + t + s · R(θ) · (p_in - c),        R(θ) = [[cos θ,  sin θ],
                                                          [-sin θ, cos θ]]   (y points down)

Warping works backwards: every *output* pixel asks where it came from,

    p_in = c + R(θ)ᵀ · (p_out - c - t) / s,

and reads the input there by bilinear interpolation of its four neighbours (pixels outside the
image count as ``fill``, 0 = MNIST's black background). Everything is array arithmetic on the
whole batch: a (N, H, W) grid of source coordinates, four gathers, one weighted sum. No Python
loop over samples or pixels, so augmenting a batch of 64 MNIST digits costs about a millisecond.

Functions take arrays of any backend (``xp = backend.array_module(images)``), so augmentation
can run on the GPU too.
"""
from . import backend, random

__all__ = ["affine_matrices", "warp_affine", "RandomAffine"]


def affine_matrices(angle, scale, tx, ty, height, width):
    """Inverse maps (N, 2, 3), float32: output pixel (x, y, 1) ↦ input position (x', y').

    ``angle`` in degrees (counter-clockwise), ``scale`` (1 = unchanged), ``tx``/``ty`` in pixels
    (positive = right/down); each a number or an array of N values.
    """
    np = backend.get_module("numpy")
    angle, scale, tx, ty = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (angle, scale, tx, ty)))
    theta = np.deg2rad(angle.reshape(-1))
    cos, sin = np.cos(theta), np.sin(theta)
    s, tx, ty = scale.reshape(-1), tx.reshape(-1), ty.reshape(-1)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # p_in = c + Rᵀ (p_out - c - t) / s, with Rᵀ = [[cos, -sin], [sin, cos]]
    m = np.empty((theta.size, 2, 3))
    m[:, 0, 0], m[:, 0, 1] = cos / s, -sin / s
    m[:, 1, 0], m[:, 1, 1] = sin / s, cos / s
    ox, oy = cx + tx, cy + ty                      # where the centre goes
    m[:, 0, 2] = cx - m[:, 0, 0] * ox - m[:, 0, 1] * oy
    m[:, 1, 2] = cy - m[:, 1, 0] * ox - m[:, 1, 1] * oy
    return m.astype(np.float32)


def warp_affine(images, matrices, fill=0.0):
    """Bilinear warp of ``images`` (N, C, H, W) or (N, H, W) by inverse maps ``matrices`` (N, 2, 3).

    out[n, c, y, x] = Σ over the 4 neighbours (y', x') of (sy, sx) of weight · in[n, c, y', x'],
    where (sx, sy) = matrices[n] @ (x, y, 1) and the weights are (1-|sx-x'|)(1-|sy-y'|).
    Neighbours outside the image contribute ``fill``: the image gets a one-pixel border of
    ``fill`` and source positions are clipped into it, so no masks are needed.
    """
    xp = backend.array_module(images)
    squeeze = images.ndim == 3
    x = images[:, None] if squeeze else images
    N, C, H, W = x.shape
    m = backend.to_backend(matrices, backend.backend_name(x)).astype(xp.float32)
    if m.shape != (N, 2, 3):
        raise ValueError(f"warp_affine: expected matrices of shape ({N}, 2, 3) for {N} images, got {tuple(m.shape)}")
    padded = xp.full((N, C, H + 2, W + 2), fill, dtype=xp.float32)       # border of fill all round
    padded[:, :, 1:-1, 1:-1] = x
    ys, xs = xp.meshgrid(xp.arange(H, dtype=xp.float32), xp.arange(W, dtype=xp.float32), indexing="ij")
    sx = m[:, 0, 0, None, None] * xs + m[:, 0, 1, None, None] * ys + m[:, 0, 2, None, None]   # (N, H, W)
    sy = m[:, 1, 0, None, None] * xs + m[:, 1, 1, None, None] * ys + m[:, 1, 2, None, None]
    sx, sy = xp.clip(sx, -1, W) + 1, xp.clip(sy, -1, H) + 1    # positions in the padded image
    x0, y0 = xp.minimum(xp.floor(sx), W), xp.minimum(xp.floor(sy), H)   # top-left neighbour
    fx, fy = sx - x0, sy - y0                                    # in [0, 1]
    x0, y0 = x0.astype(xp.int32), y0.astype(xp.int32)
    row = W + 2
    top_left = (y0 * row + x0).reshape(N, 1, H * W)
    flat = padded.reshape(N, C, -1)
    out = None
    for offset, w in ((0, (1 - fy) * (1 - fx)), (1, (1 - fy) * fx), (row, fy * (1 - fx)), (row + 1, fy * fx)):
        index = xp.broadcast_to(top_left + offset, (N, C, H * W))
        term = xp.take_along_axis(flat, index, axis=2).reshape(N, C, H, W) * w[:, None]
        out = term if out is None else out + term
    return out[:, 0] if squeeze else out


class RandomAffine:
    """Transform: rotate, translate and scale each image of a batch by its own random amounts.

    ``RandomAffine(degrees=10, translate=0.1, scale=(0.9, 1.1))`` draws, per image,
    θ ~ U(-degrees, degrees), tx ~ U(-translate·W, translate·W), ty likewise with H, and
    s ~ U(scale) — torchvision's ``RandomAffine`` conventions (translate is a fraction of the
    image size). The defaults are small on purpose: past ±15° a 6 starts to look like a 9.
    Draws come from tinynet's generator, so ``tinynet.manual_seed`` makes them repeatable.
    Input: float images (N, C, H, W) or (N, H, W); background must equal ``fill``.
    """

    def __init__(self, degrees=10.0, translate=0.1, scale=(0.9, 1.1), fill=0.0):
        if degrees < 0 or not 0 <= translate < 1 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f"RandomAffine: need degrees >= 0, 0 <= translate < 1 and 0 < scale[0] <= scale[1], "
                             f"got degrees={degrees}, translate={translate}, scale={scale}")
        self.degrees, self.translate, self.scale, self.fill = degrees, translate, tuple(scale), fill

    def __call__(self, images):
        n, H, W = images.shape[0], images.shape[-2], images.shape[-1]
        g = random.generator()
        angle = g.uniform(-self.degrees, self.degrees, n)
        tx = g.uniform(-self.translate * W, self.translate * W, n)
        ty = g.uniform(-self.translate * H, self.translate * H, n)
        s = g.uniform(self.scale[0], self.scale[1], n)
        return warp_affine(images, affine_matrices(angle, s, tx, ty, H, W), self.fill)

    def __repr__(self):
        return f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale})"
