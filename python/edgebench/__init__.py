"""edgebench from Python.

- ``EdgeEnv``: a Gymnasium environment, one step per slot of a scenario and seed
  (``EdgeVecEnv``: many worlds stepped in one call).
- ``run``: built-in policies (by name) and Python policies (objects with
  ``decide(observation) -> action``) on identical worlds; returns the CLI's
  results set as polars DataFrames.
- ``report``: the CLI's tables and figures of a results set.
"""

import gymnasium as _gym

from ._edgebench import Sim, VecSim, __version__, builtin_policies
from .api import Results, report, run
from .env import EdgeEnv, EdgeVecEnv

_gym.register(id="edgebench/EdgeEnv-v0", entry_point="edgebench.env:EdgeEnv")

__all__ = [
    "EdgeEnv",
    "EdgeVecEnv",
    "Results",
    "Sim",
    "VecSim",
    "__version__",
    "builtin_policies",
    "report",
    "run",
]
