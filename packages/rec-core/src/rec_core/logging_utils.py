"""The `rec` logger: one format for every package, level from the LOG_LEVEL env var."""

import logging
import os
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str = "rec") -> logging.Logger:
    """Return `name` under the `rec` logger hierarchy, configuring the root `rec` logger once."""
    root = logging.getLogger("rec")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
        root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
        root.propagate = False
    if name == "rec" or name.startswith("rec."):
        return logging.getLogger(name)
    # module names rec_core.x, rec_dist.y log as rec.core.x, rec.dist.y
    return logging.getLogger("rec." + (name[4:] if name.startswith("rec_") else name))


def quiet_third_party() -> None:
    """Keep TorchRec/torch planner chatter out of the console unless LOG_LEVEL=DEBUG."""
    if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
        return
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("torchrec", "root", "torch.distributed", "torch.fx", "torch.fx._symbolic_trace", "fbgemm_gpu"):
        logging.getLogger(None if name == "root" else name).setLevel(logging.ERROR)


logger = get_logger()
