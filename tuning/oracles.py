"""The search algorithms by name (`--tuner`): each is a KerasTuner oracle, named here by its class
so that checking a flag does not import keras_tuner (`tuning.tuner.ORACLES` holds the classes)."""

from amr_tf import registry

TUNERS = registry.Registry("tuner")
for _name, _oracle in (("grid", "GridSearchOracle"), ("random", "RandomSearchOracle"),
                       ("bayesian", "BayesianOptimizationOracle"), ("hyperband", "HyperbandOracle")):
    TUNERS.add(_name, _oracle)
