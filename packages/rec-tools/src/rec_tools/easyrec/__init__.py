"""Migration of EasyRec (TensorFlow) pipeline configs to rec configs, without EasyRec installed."""
