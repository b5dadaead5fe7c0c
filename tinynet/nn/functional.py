"""``tinynet.nn.functional`` is ``tinynet.functional`` (the PyTorch spelling)."""
from ..functional import *  # noqa: F401,F403
from ..functional import batch_norm  # noqa: F401
