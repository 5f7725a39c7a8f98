"""KerasTuner search over lambda (and mixer, k). The search CLI arrives with its own issue."""
