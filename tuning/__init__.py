"""KerasTuner search over lambda (and mixer, k, beta): `python -m tuning.search --dataset=digits`.

hypermodel.py: the search space over a Config, building the trainer as `amr_tf.train` does;
tuner.py: trials as resumable `trainers.run.fit` runs, several seeds per trial, the oracles;
session.py: one search (single process, or KerasTuner's chief/worker); report.py: its table,
results.csv and best.json; search.py: the CLI.
"""
