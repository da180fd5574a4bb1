"""ember.nn: Module, Parameter, layers, losses, ``functional``, ``init``, ``utils``."""
from .parameter import Buffer, Parameter  # noqa: F401
from .parameter import UninitializedBuffer, UninitializedParameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import Module  # noqa: F401
from .modules.module import (register_module_forward_hook,  # noqa: F401
                             register_module_forward_pre_hook)
from . import functional, init  # noqa: F401
from . import utils  # noqa: F401
from . import attention  # noqa: F401
from . import parallel  # noqa: F401
from .parallel import DataParallel, SyncBatchNorm  # noqa: F401
from .parallel import DistributedDataParallel  # noqa: F401
