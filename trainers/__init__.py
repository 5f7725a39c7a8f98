"""Keras models that own AMR's adversarial train_step, and the code that runs them."""
