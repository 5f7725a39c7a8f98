"""TF Serving: the SavedModel of a run's encoder and decoder, its signatures and warm-up requests
(`archive`), the export of a trained run as a new model version (`export`), and the latency of
an exported model's signatures (`latency`)."""

from amr_tf.serving.archive import (  # noqa: F401
    FORMATS,
    MAX_STEPS,
    METADATA_FILE,
    SIGNATURES,
    WARMUP_BATCHES,
    WARMUP_FILE,
    build_archive,
    checked,
    read_metadata,
    versions,
    warmup_requests,
    write_version,
    write_warmup,
)
from amr_tf.serving.export import export_run  # noqa: F401
