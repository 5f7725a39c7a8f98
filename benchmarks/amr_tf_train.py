"""amr_tf's side of `against_original.py`'s part 3: trains amr_tf's AMR for the budget.

    .venv/bin/python benchmarks/amr_tf_train.py --data=DATA.npz --config=mixup_k2 --seed=0 --out=DIR \
        [--spectral_norm=reparametrized|keras] [--d_calls=original|batched]

amr_tf's own trainer (`trainers.build.build_trainer`, its `train_step`) at the original's settings
(`budget_protocol.SETTINGS`, the original's probe: Adam at lr) on the protocol's batches, with the
generator due on the protocol's steps; writes the same records as `original_train.py`.
With --init_from it starts from the original's initial weights instead of its own (the same
seed's init.npz): then the two runs differ only in their mixing draws and round-off.
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import budget_protocol as protocol  # noqa: E402


def build(config_name, seed, spectral_norm, d_calls):
    from amr_tf.config import Config
    from amr_tf.data import DataInfo
    from trainers.build import build_trainer

    s = protocol.SETTINGS
    mixer = protocol.CONFIGS[config_name]["mixer"]
    config = Config(dataset="fashion_mnist", model="amr", mixer=mixer, k=protocol.CONFIGS[config_name]["k"],
                    lamb=s["lamb"], beta=s["beta"], lr=s["lr"], beta1=s["beta1"], beta2=s["beta2"],
                    weight_decay=s["weight_decay"], update_g_every=s["update_g_every"], batch_size=s["batch_size"],
                    probe_lr=None, seed=seed,
                    **{k: v for k, v in (("spectral_norm", spectral_norm), ("d_calls", d_calls)) if v is not None})
    info = DataInfo("fashion_mnist", (32, 32, 1), 10, {}, "budget_protocol")
    return build_trainer(config, info), (2 if mixer == "none" else 3)


def measure(trainer, images, labels, batch=500):
    """(mean L1 of g(f(x)) - x, probe accuracy, codes [N, F]) on `images` (NHWC in [-1, 1])."""
    l1, correct, codes = 0.0, 0, []
    for start in range(0, len(images), batch):
        x = images[start:start + batch]
        h = trainer.encoder(x, training=False)
        l1 += float(np.abs(trainer.decoder(h, training=False).numpy() - x).sum())
        correct += int((np.argmax(trainer.probe(h, training=False).numpy(), 1) == labels[start:start + batch]).sum())
        codes.append(h.numpy().reshape(len(x), -1))
    return l1 / images.size, correct / len(images), np.concatenate(codes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    protocol.add_run_arguments(parser)
    parser.add_argument("--spectral_norm", default=None, help="default: amr_tf's (Config.spectral_norm)")
    parser.add_argument("--d_calls", default=None, help="default: amr_tf's (Config.d_calls)")
    parser.add_argument("--init_from", default=None,
                        help="start from the original's initial weights (an init.npz of original_train.py)")
    args = parser.parse_args()
    from amr_tf import quiet

    quiet.import_tensorflow()  # without TensorFlow's start-up notices in the run's log
    import tensorflow as tf

    from amr_tf import checkpoint
    from trainers.checkpoint import objects

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = protocol.load_data(args.data)
    train_x = protocol.scale(data["train_x"])
    onehot = np.eye(10, dtype=np.float32)[data["train_y"]]
    test_x, test_y = protocol.scale(data["test_x"]), data["test_y"]
    trainer, d_terms = build(args.config, args.seed, args.spectral_norm, args.d_calls)
    if args.init_from:
        from against_original import copy_weights

        with np.load(args.init_from) as f:
            copy_weights(trainer, {key: f[key] for key in f.files}, "init")
    start = 0
    if checkpoint.is_complete(out / "state"):  # a TensorFlow checkpoint, prefix state
        start = checkpoint.restore(objects(trainer), out / "state")["step"]
    kept = protocol.keep_curve(out, start)
    spec = (tf.TensorSpec([None, 32, 32, 1], tf.float32), tf.TensorSpec([None, 10], tf.float32))
    steps = {due: tf.function(lambda x, y, due=due: trainer.train_step((x, y), update_generator=due),
                              input_signature=spec) for due in (True, False)}
    began = time.time() - (kept[-1]["seconds"] if kept else 0.0)  # seconds of training, across resumes
    for metric in trainer.metrics:
        metric.reset_state()
    for step, it, idx in protocol.batches(len(train_x), protocol.SETTINGS["batch_size"], args.seed, args.steps, start):
        logs = steps[protocol.generator_due(it)](train_x[idx], onehot[idx])
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            # The trackers hold the window's means (recon, D's summed terms, the probe's accuracy).
            means = {"train_recon": float(logs["recon"]), "train_d_x": float(logs["d_loss"]) / d_terms,
                     "train_probe_acc": float(logs["probe_accuracy"])}
            for metric in trainer.metrics:
                metric.reset_state()
            l1, acc, _ = measure(trainer, test_x[:protocol.CURVE_TEST], test_y[:protocol.CURVE_TEST])
            protocol.append_curve(out, {"step": step + 1, **means, "test_recon_l1": l1, "test_probe_acc": acc,
                                        "seconds": time.time() - began})
            checkpoint.save(out / "state", objects(trainer), {"step": step + 1})
            print(f"amr_tf {args.config} seed {args.seed}: step {step + 1}/{args.steps} recon {l1:.4f} "
                  f"probe {acc:.3f}", flush=True)
    l1, acc, test_codes = measure(trainer, test_x, test_y)
    _, _, train_codes = measure(trainer, protocol.scale(data["train_x"][:protocol.PROBE_TRAIN]),
                                data["train_y"][:protocol.PROBE_TRAIN])
    np.savez(out / "final.npz", test_recon_l1=l1, test_probe_acc=acc, train_codes=train_codes, test_codes=test_codes)
    protocol.write_json(out / "done.json", {"steps": args.steps, "test_recon_l1": l1, "test_probe_acc": acc})


if __name__ == "__main__":
    main()
