"""Import TensorFlow without its start-up chatter on stderr (for the CLIs).

TF 2.21 writes oneDNN/CUDA notices straight to file descriptor 2 before its own log level
applies, which buries a CLI's one-line error. With TF_CPP_MIN_LOG_LEVEL >= 2 those lines are
dropped during the import and device discovery only. The CLIs' default is 3: TensorFlow's C++
ERROR lines are then dropped too, which are notices for a user (oneDNN's "supports DT_INT32
only on platforms with AVX-512" on an AVX-512 CPU, a failed cuInit without a GPU), while a real
failure still reaches Python as an exception with its message. Set TF_CPP_MIN_LOG_LEVEL=0 to
see every line. Import errors still raise normally.
"""

import os
import sys


def import_tensorflow():
    """Imports tensorflow and keras, silencing fd 2 meanwhile when the log level asks for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] < "2":
        import tensorflow as tf  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery prints its notices here too (and
        # leaves the runtime unstarted, so --logical_cpus can still split the CPU)
        tf.get_logger().setLevel("WARNING")  # tf.distribute's INFO lines on every all-reduce
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
