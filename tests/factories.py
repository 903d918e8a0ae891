"""The suite's event factories are eventweave's public ones (``eventweave.testing.events``)."""

from eventweave.testing.events import *  # noqa: F403
from eventweave.testing.events import __all__  # noqa: F401
