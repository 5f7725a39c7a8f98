from setuptools import find_packages, setup

setup(
    name="amr_tf",
    version="0.1.0",
    description="Adversarial mixup resynthesis (Beckham et al., NeurIPS 2019) in TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["amr_tf", "amr_tf.*", "trainers", "trainers.*", "tuning", "tuning.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<4",
        "keras-tuner>=1.4.7",
        "tensorflow-datasets>=4.9.9",
        "importlib_resources",  # TFDS builders need it (etils' epath) but do not pull it in
        "tensorboard",  # tf.summary needs it; TF 2.21 no longer pulls it in
        "absl-py",
        "numpy",
        "scikit-learn",  # the bundled digits data set
        "pillow",  # PNG figures
        "tensorflow-serving-api>=2.21,<2.22",  # PredictionLog protos for the export's warm-up records
    ],
    extras_require={"test": ["pytest>=8", "pytest-timeout", "pytest-xdist", "ruff"]},
)
