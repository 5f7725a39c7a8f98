"""The `probe` metric: a linear probe re-fitted to convergence on a trained run's frozen codes.

`fit_linear_probe` is the pure part (numpy codes in, accuracies out; scikit-learn, imported
when it runs); `evaluate` encodes the run's splits and reports the refitted probe beside the
probe accuracy tracked during training (RUN/best.json, `trainers.callbacks`).
"""

import numpy as np

from amr_tf import rundir
from amr_tf.evaluation import codes

NAME = "probe"
OPTIONS = ("probe_examples", "seed")
SCALARS = ("probe_valid_accuracy", "probe_test_accuracy")


def why_not(config):
    """None where the run's data has labels to fit the probe on (every set but a folder without
    class subfolders, or one read with --labels=none)."""
    if config.dataset == "folder":
        from amr_tf import data

        if data.info("folder", config).n_classes == 0:
            return "needs labels: this folder's images have none (no class subfolders, or --labels=none)"
    return None


def fit_linear_probe(train_codes, train_labels, eval_sets, max_iter=5000, seed=0):
    """A logistic-regression probe on frozen codes, fitted to convergence (scikit-learn, lbfgs).

    Codes are standardised with the train split's mean and std. One-hot labels give one
    multinomial regression (accuracy = argmax hits); multi-hot labels (CelebA attributes) give
    one binary regression per attribute (accuracy = mean over attributes of per-attribute hits).

    Args:
        train_codes, train_labels: [n, d] and [n, n_classes] of the train split.
        eval_sets: {name: (codes, labels)} to score.
        max_iter: lbfgs iteration cap (the result says whether it converged before it).
        seed: random_state of the solver.

    Returns:
        {"<name>_accuracy": float for each eval set, "train_accuracy", "converged": bool,
         "iterations": int, "labels": "one-hot" | "multi-hot"}.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_codes)
    multi_hot = bool(np.any(np.abs(np.sum(train_labels, axis=1) - 1.0) > 1e-6))

    def fit(x, y):
        model = LogisticRegression(solver="lbfgs", max_iter=max_iter, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if len(np.unique(y)) < 2:  # a constant label (e.g. an attribute never on in the subset)
                return None, 0
            model.fit(x, y)
        return model, int(np.max(model.n_iter_))

    x_train = scaler.transform(train_codes)
    sets = {"train": (train_codes, train_labels), **eval_sets}
    result = {"labels": "multi-hot" if multi_hot else "one-hot"}
    if multi_hot:
        models = [fit(x_train, (train_labels[:, a] > 0.5).astype(int)) for a in range(train_labels.shape[1])]
        iterations = max(n for _, n in models)
        for name, (codes, labels) in sets.items():
            x = scaler.transform(codes)
            hits = []
            for a, (model, _) in enumerate(models):
                truth = (labels[:, a] > 0.5).astype(int)
                guess = model.predict(x) if model is not None else np.full(len(x), int(train_labels[0, a] > 0.5))
                hits.append(np.mean(guess == truth))
            result[f"{name}_accuracy"] = float(np.mean(hits))
    else:
        model, iterations = fit(x_train, np.argmax(train_labels, axis=1))
        for name, (codes, labels) in sets.items():
            truth = np.argmax(labels, axis=1)
            guess = model.predict(scaler.transform(codes)) if model is not None else np.full(len(truth), truth[0])
            result[f"{name}_accuracy"] = float(np.mean(guess == truth))
    result.update(converged=bool(iterations < max_iter), iterations=int(iterations))
    return result


def train_indices(config, split_data):
    """The train examples the run trained on (its `subset_train`, if any)."""
    from amr_tf.data import sources

    n = split_data.size
    if config.subset_train and config.subset_train < n:
        return sources.subset_indices(n, config.subset_train)
    return np.arange(n)


def evaluate(run_dir, config, nets, *, probe_examples, seed, batch_size=codes.ENCODE_BATCH):
    """A linear probe re-fitted to convergence on the frozen codes of the train split.

    The codes are f(x) flattened (a VAE's posterior mean), standardised with the train
    codes' mean and std; scikit-learn's LogisticRegression (lbfgs, L2 with C = 1) is fitted
    until it converges (at most 5,000 iterations; the result says whether it did) and
    scored on the whole valid and test splits.

    Args:
        run_dir: the run (its best.json gives the accuracies tracked during training).
        config, nets: from `amr_tf.checkpoint.load_networks`.
        probe_examples: fit on at most this many train examples (a seeded subset; default all).
        seed: the subset's seed.

    Returns:
        {"summary": {...}, "valid_accuracy", "test_accuracy", "train_accuracy",
         "tracked_val_probe_accuracy", "tracked_test_probe_accuracy", "tracked_epoch",
         "train_examples", "converged", "iterations", "labels", "code_dims"}.
    """
    train = codes.split(config, "train")
    indices = train_indices(config, train)
    if probe_examples is not None and probe_examples < len(indices):
        indices = np.sort(np.random.default_rng(seed).choice(indices, probe_examples, replace=False))
    train_codes, labels = codes.split_codes(nets.encoder, train, indices, batch_size, label="train")
    evals = {name: codes.split_codes(nets.encoder, codes.split(config, name), None, batch_size, label=name)
             for name in ("valid", "test")}
    fitted = fit_linear_probe(train_codes, labels, evals, seed=seed)
    best = rundir.read_best(run_dir)
    result = {
        "valid_accuracy": fitted["valid_accuracy"], "test_accuracy": fitted["test_accuracy"],
        "train_accuracy": fitted["train_accuracy"],
        "tracked_val_probe_accuracy": best.get("val_probe_accuracy"),
        "tracked_test_probe_accuracy": best.get("test_probe_accuracy"),
        "tracked_epoch": best.get("epoch"),
        "train_examples": int(len(indices)), "valid_examples": int(len(evals["valid"][0])),
        "test_examples": int(len(evals["test"][0])), "code_dims": int(train_codes.shape[1]),
        "converged": fitted["converged"], "iterations": fitted["iterations"], "labels": fitted["labels"],
        "probe": "sklearn LogisticRegression(lbfgs, C=1, max_iter=5000) on standardised codes",
    }
    result["summary"] = {
        "probe_valid_accuracy": result["valid_accuracy"], "probe_test_accuracy": result["test_accuracy"],
        "tracked_val_probe_accuracy": result["tracked_val_probe_accuracy"],
        "tracked_test_probe_accuracy": result["tracked_test_probe_accuracy"],
    }
    return result
