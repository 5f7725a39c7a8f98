"""Moved to `amr_tf.recipes` (the paper's tables are experiment configuration, below the trainers);
this name stays so that `from trainers import recipes` keeps working: it is the same module."""

import sys

from amr_tf import recipes

sys.modules[__name__] = recipes
