"""l2l: the companion package of the book "Learning to learn".

The public API is re-exported here and documented on the book's API page.
"""

from l2l.plotting import loss_curves, use_style
from l2l.results import record
from l2l.runtime import default_device

__version__ = "0.1.0"
