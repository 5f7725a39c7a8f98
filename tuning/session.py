"""One search, on one machine or as the chief or a worker of KerasTuner's distributed mode.

The role comes from KerasTuner's environment: no KERASTUNER_ORACLE_IP -> "single" (this process
runs the oracle and the trials); KERASTUNER_TUNER_ID containing "chief" -> "chief" (runs the
oracle as a gRPC server at KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT, trains nothing, returns
once every worker has been told to stop); any other id -> "worker" (asks the chief for trials).
"""

import dataclasses
import hashlib
import itertools
import json
import math
import os
from pathlib import Path

from amr_tf import rundir
from tuning.oracles import TUNERS


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """What a search is: its base Config, space, tuner, trial budget and seeds.

    Two runs of the same spec are one search (the second resumes the first).
    """

    base: object  # an amr_tf.config.Config
    lambdas: tuple
    mixers: tuple = ()
    ks: tuple = ()
    betas: tuple = ()
    tuner: str = "grid"
    max_trials: int = None
    seeds: tuple = (0,)

    def to_dict(self):
        return {**dataclasses.asdict(self), "base": dataclasses.asdict(self.base)}

    def default_project_name(self):
        """`<dataset>_<tuner>_<hash of the spec>`: the same command finds the same project."""
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
        return f"{self.base.dataset}_{self.tuner}_{digest[:8]}"


def check_options(tuner, max_trials, seeds):
    """Raises ValueError (one line) for a tuner, trial budget or seed count that cannot be right."""
    TUNERS.check(tuner)
    if max_trials is not None:
        if max_trials < 1:
            raise ValueError(f"--max_trials must be >= 1, got --max_trials={max_trials}")
        if tuner == "hyperband":
            raise ValueError("--max_trials does not apply to --tuner=hyperband (its budget is --epochs)")
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got --seeds={seeds}")


def parse_list(name, text, kind):
    """The comma-separated values of flag `name` as `kind`; raises ValueError naming bad ones."""
    items = [s.strip() for s in text.split(",")]
    example = {"lambdas": "2,5,10,20,50", "mixers": "mixup,bernoulli", "ks": "2,3", "betas": "0,0.5"}[name]
    if not text.strip():
        raise ValueError(f"--{name} is empty; give values like --{name}={example}")
    if any(not s for s in items):
        raise ValueError(f"--{name}={text!r} has an empty item; give values like --{name}={example}")
    values = []
    for s in items:
        try:
            value = kind(s)
        except ValueError:
            raise ValueError(f"--{name}: {s!r} is not {'a number' if kind is float else 'an integer'}") from None
        if kind is float and not math.isfinite(value):
            raise ValueError(f"--{name}: {s!r} is not a finite number")
        values.append(value)
    twice = sorted({s for s in values if values.count(s) > 1})
    if twice:
        raise ValueError(f"--{name} lists {twice[0]:g} twice" if kind is float else f"--{name} lists {twice[0]} twice")
    return tuple(values)


def make_spec(base, lambdas, mixers=(), ks=(), betas=(), tuner="grid", max_trials=None, seeds=(0,)):
    """The SearchSpec, once every point of its space is a valid Config (refused now, not at
    trial 7: ValueError in one line)."""
    for lamb, mixer, k, beta in itertools.product(lambdas, mixers or (base.mixer,), ks or (base.k,),
                                                  betas or (base.beta,)):
        dataclasses.replace(base, lamb=lamb, mixer=mixer, k=base.k if mixer == "none" else k, beta=beta)
    return SearchSpec(base, lambdas, mixers, ks, betas, tuner, max_trials, seeds)


def role():
    """"single", "chief" or "worker", from KerasTuner's environment variables.

    Raises:
        ValueError: the variables are set only in part, or the port is not a number.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if not os.environ.get(name):
            raise ValueError(f"KERASTUNER_ORACLE_IP is set but {name} is not; distributed tuning needs "
                             "KERASTUNER_TUNER_ID (chief or tuner<N>), KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT")
    port = os.environ["KERASTUNER_ORACLE_PORT"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"KERASTUNER_ORACLE_PORT={port!r} is not a port number (1-65535)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def check_project(project_dir, spec):
    """Records the spec in `project_dir/search.json`, or refuses a project holding another search.

    Raises:
        ValueError: the project was started with other settings.
    """
    path = Path(project_dir) / "search.json"
    wanted = json.loads(json.dumps(spec.to_dict()))  # tuples -> lists, as read back
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); move it aside to start the search afresh") from None
        if not isinstance(old, dict):
            raise ValueError(f"{path} holds no search's settings (a JSON object); move it aside to start "
                             "the search afresh")
        if old != wanted:
            diffs = _diffs(old, wanted)
            raise ValueError(f"{project_dir} holds a search with other settings ({'; '.join(diffs)}); "
                             "run it with its own flags, or choose another --project_name")
        return
    rundir.write_json(path, wanted)


def _diffs(old, new, prefix=""):
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diffs(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}={a!r} there, {b!r} now")
    return out


def run_search(spec, directory, project_name=None, fit_verbose=0):
    """Runs (or resumes) the search `spec` in `directory/project_name`.

    Args:
        spec: a `SearchSpec`.
        directory: the tuner's directory; shared by the chief and workers.
        project_name: default `spec.default_project_name()`.
        fit_verbose: Keras' verbosity inside each trial.

    Returns:
        (tuner, role): the `AMRTuner` (its oracle holds every trial, except on a worker) and
        "single", "chief" or "worker".
    """
    from tuning import hypermodel  # import keras_tuner (and TensorFlow)
    from tuning import tuner as tuners

    who = role()
    project_name = rundir.check_folder_name("project name", project_name or spec.default_project_name())
    check_project(Path(directory) / project_name, spec)
    model = hypermodel.AMRHyperModel(spec.base, spec.lambdas, spec.mixers or None, spec.ks or None,
                                     spec.betas or None)
    oracle = tuners.make_oracle(spec.tuner, spec.max_trials, spec.base.epochs, spec.base.seed)
    tuner = tuners.AMRTuner(oracle, model, seeds=spec.seeds, fit_verbose=fit_verbose,
                            directory=str(directory), project_name=project_name, overwrite=False)
    project_dir = Path(directory) / project_name
    if who != "worker":
        done = [t for t in tuner.oracle.trials.values() if t.status in ("COMPLETED", "FAILED")]
        verb = "resuming" if tuner.oracle.trials else "starting"
        print(f"{verb} search {project_dir} ({who}): {len(done)} trials finished", flush=True)
    else:
        print(f"worker {os.environ['KERASTUNER_TUNER_ID']} of search {project_dir} asks "
              f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']} for trials",
              flush=True)
    tuner.search()
    return tuner, who
