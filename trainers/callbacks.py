"""Callbacks that turn a `fit` into a run directory that survives kills.

Order of writes at the end of epoch e (so SIGKILL at any point loses at most epoch e and
never duplicates a row): best-e checkpoint (if improved) -> epoch-e checkpoint (which carries
the history) -> metrics.csv row (append) -> best.json -> pruning to the newest two epoch
checkpoints and the newest best. On resume, `amr_tf.rundir.repair_history` makes metrics.csv
hold exactly the checkpoint's rows.
"""

import csv
import math
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from amr_tf import checkpoint, evaluation, images, mixers, rundir
from amr_tf.rundir import write_json
from trainers import checkpoint as trainer_checkpoint


def _plain(value):
    value = float(np.asarray(value))
    return value if math.isfinite(value) else float("nan")


class RunRecorder(keras.callbacks.Callback):
    """Checkpoints, metrics.csv, best.json and the test-split probe accuracy.

    Args:
        run_dir: the run directory.
        test_data: batches of the test split (probe accuracy reported each epoch).
        history: rows of earlier epochs (from the resumed checkpoint), oldest first.
        keep: epoch checkpoints kept besides the best one.
        identity: what the checkpoints are of (`checkpoint.identity(config)`), recorded in each.
    """

    def __init__(self, run_dir, test_data, history=(), keep=2, identity=None):
        super().__init__()
        self.identity = identity
        self.run_dir = Path(run_dir)
        self.ckpt_dir = rundir.checkpoints_dir(self.run_dir)
        self.test_data = test_data
        self.history = list(history)
        self.keep = keep
        self.columns = None
        self.diverged = None  # {"epoch", "step", "values"} of the first non-finite log
        self._epoch = 0
        self._probe_accuracy = None  # traced once per model (set_model)

    @property
    def best(self):
        """The best epoch's record: the highest valid probe accuracy (the earliest of ties), or on
        data without labels (no probe) the lowest valid reconstruction error, which it names."""
        if not any("val_probe_accuracy" in r for r in self.history):
            rows = [r for r in self.history if math.isfinite(r.get("val_recon", float("nan")))]
            if not rows:
                return None
            row = min(rows, key=lambda r: (r["val_recon"], r["epoch"]))
            return {"epoch": row["epoch"], "val_recon": row["val_recon"], "criterion": "lowest val_recon"}
        rows = [r for r in self.history if math.isfinite(r.get("val_probe_accuracy", float("nan")))]
        if not rows:
            return None
        row = max(rows, key=lambda r: (r["val_probe_accuracy"], -r["epoch"]))
        return {
            "epoch": row["epoch"],
            "val_probe_accuracy": row["val_probe_accuracy"],
            "test_probe_accuracy": row["test_probe_accuracy"],
        }

    def _append(self, row):
        path = self.run_dir / rundir.METRICS_FILE
        if self.columns is None:
            if path.exists() and path.stat().st_size:
                with open(path, newline="") as f:
                    self.columns = next(csv.reader(f))
            else:
                self.columns = ["epoch"] + sorted(k for k in row if k != "epoch")
                with open(path, "w", newline="") as f:
                    csv.writer(f).writerow(self.columns)
        with open(path, "a", newline="") as f:
            csv.DictWriter(f, self.columns, extrasaction="ignore").writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def set_model(self, model):
        super().set_model(model)
        self._probe_accuracy = None if model.probe is None else evaluation.ProbeAccuracy(model.encoder, model.probe)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Stops at the first step whose running losses are not finite (a NaN never leaves)."""
        bad = sorted(k for k, v in (logs or {}).items() if not math.isfinite(_plain(v)))
        if bad and self.diverged is None:
            self.diverged = {"epoch": self._epoch + 1, "step": batch + 1, "values": bad}
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        trainer = self.model
        if self.diverged is not None:
            return  # the epoch did not finish: no row, no checkpoint
        if self._probe_accuracy is not None:
            logs["test_probe_accuracy"] = self._probe_accuracy(self.test_data)
        row = {"epoch": epoch + 1, **{k: _plain(v) for k, v in logs.items()}}
        row["g_updates"] = int(trainer.ae_optimizer.iterations.numpy())
        if not all(math.isfinite(v) for k, v in row.items() if k != "epoch"):
            # finite training losses, non-finite evaluation (e.g. the valid split's)
            self.diverged = {"epoch": epoch + 1, "step": None,
                             "values": sorted(k for k, v in row.items() if not math.isfinite(v))}
            trainer.stop_training = True
            return
        self.history.append(row)
        objects = trainer_checkpoint.objects(trainer)
        meta = {"epoch": epoch + 1, "history": self.history}
        if self.identity:
            meta["identity"] = self.identity
        if (self.best or {}).get("epoch") == epoch + 1:  # this epoch is the new best
            checkpoint.save(checkpoint.best_path(self.ckpt_dir, epoch + 1), objects, meta)
        checkpoint.save(checkpoint.epoch_path(self.ckpt_dir, epoch + 1), objects, meta)
        self._append(row)
        write_json(self.run_dir / rundir.BEST_FILE, self.best)
        checkpoint.prune(self.ckpt_dir, self.keep)


class ImageRecorder(keras.callbacks.Callback):
    """Each epoch: pictures as PNG in images/, and in TensorBoard.

    Images: a reconstruction grid and mix strips; with a class mixer (cls > 0) also strips
    of class-conditional mixes over y_mix = a y_1 + (1 - a) y_2, the mask set to p (Fig. 5).
    Points (the spiral): the data in blue and decoded random mixes in orange (Fig. 12).

    Args:
        run_dir: the run directory.
        examples: a fixed batch of images [N, H, W, C] (N even, >= 4), or points [N, 2],
            from the valid split.
        mixer: the run's mixer (decides the strip's mixing form).
        steps: images per strip.
        labels: the examples' labels [N, A] (needed for the class-mixer strips).
    """

    def __init__(self, run_dir, examples, mixer, steps=8, labels=None):
        super().__init__()
        self.image_dir = rundir.images_dir(run_dir)
        self.examples = np.asarray(examples)
        self.labels = None if labels is None else np.asarray(labels, np.float32)
        self.mixer = mixer
        self.steps = steps
        self.writer = tf.summary.create_file_writer(str(rundir.logs_dir(run_dir, "images")))

    def pictures(self):
        """name -> uint8 picture [H, W, C] for the current weights."""
        enc, dec = self.model.encoder, self.model.decoder
        x = self.examples
        if x.ndim == 2:  # points
            h = enc(x, training=False)
            mixed = mixers.mix(h, mixers.drawn_with(self.mixer), 2, seed=0).h
            return {"mixes": images.scatter([x, dec(mixed, training=False).numpy()])}
        recon = dec(enc(x, training=False), training=False).numpy()
        half = len(x) // 2
        strips = [
            evaluation.interpolation_strip(enc, dec, x[i], x[half + i], self.steps, self.mixer)
            for i in range(half)
        ]
        out = {
            "reconstructions": images.grid([x, recon]),
            "mixes": images.grid([np.concatenate([[x[i]], s, [x[half + i]]]) for i, s in enumerate(strips)]),
        }
        class_mixer = getattr(self.model, "class_mixer", None)
        if class_mixer is not None and self.labels is not None:
            h = enc(x, training=False)
            alphas = np.linspace(1.0, 0.0, self.steps, dtype=np.float32)[:, None]
            rows = []
            for i in range(half):
                y_mix = alphas * self.labels[i] + (1.0 - alphas) * self.labels[half + i]
                codes = mixers.class_mix_fixed(h[i:i + 1], h[half + i:half + i + 1], y_mix, class_mixer)
                rows.append(np.concatenate([[x[i]], dec(codes, training=False).numpy(), [x[half + i]]]))
            out["class_mixes"] = images.grid(rows)
        return out

    def on_epoch_end(self, epoch, logs=None):
        if not all(math.isfinite(_plain(v)) for v in (logs or {}).values()):
            return  # a diverged epoch: its pictures would be NaN, and it gets no checkpoint
        with self.writer.as_default():
            for name, picture in self.pictures().items():
                images.save_png(self.image_dir / f"{name}_epoch{epoch + 1:04d}.png", picture,
                                scale=1 if name == "mixes" and self.examples.ndim == 2 else 2)
                tf.summary.image(name, picture[None], step=epoch + 1)
        self.writer.flush()
