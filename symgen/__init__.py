from .errors import *  # noqa
