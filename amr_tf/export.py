"""Export a run's decoder for TF Serving: `python -m amr_tf.export --run_dir=runs/demo`.

Writes `EXPORT_DIR/NAME/VERSION/` (TF Serving's layout: `--model_base_path=EXPORT_DIR/NAME`),
a SavedModel with the signatures serving_default (code -> image), encode, reconstruct,
interpolate and mix (see `amr_tf.serving.archive`), plus warm-up requests in `assets.extra/`.
VERSION defaults to one more than the highest present; an existing version is never
overwritten. `--format=keras` writes `encoder.keras` and `decoder.keras` instead, under
`EXPORT_DIR/NAME-keras/` so that TF Serving never meets them.
"""

from absl import flags

from amr_tf import quiet

quiet.import_tensorflow()

from amr_tf import cli, rundir  # noqa: E402
from amr_tf.serving import FORMATS, export_run  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    """The CLI's flags; defined only when run as a program, so that importing several commands (as
    the tests do) never defines a flag twice."""
    flags.DEFINE_string("run_dir", None, "The run directory to export (written by amr_tf.train).")
    flags.DEFINE_string("export_dir", "saved_models",
                        "Export root; TF Serving's --model_base_path is EXPORT_DIR/NAME.")
    flags.DEFINE_string("model_name", None,
                        "Model name (default: the run directory's name; '-keras' added for --format=keras).")
    flags.DEFINE_integer("version", None,
                         "Version number (default: one more than the highest present; never overwrites).")
    flags.DEFINE_string("checkpoint", "best",
                        f"Which checkpoint: {', '.join(rundir.CHECKPOINTS)} (best = best valid probe accuracy).")
    flags.DEFINE_string("format", "saved_model",
                        f"{', '.join(FORMATS)} (keras: .keras files, not for TF Serving).")


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    try:
        path = export_run(FLAGS.run_dir, FLAGS.export_dir, FLAGS.model_name, FLAGS.version,
                          FLAGS.checkpoint, FLAGS.format)
    except ValueError as e:  # bad input: one line, no traceback
        fail(str(e))
    print(f"exported={path}", flush=True)


def fail(message):
    cli.fail("amr_tf.export", message)


if __name__ == "__main__":
    define_flags()
    cli.run(main, "amr_tf.export")
