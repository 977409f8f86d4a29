"""The worker: the ``usage`` consumer (aiokafka loop or Faust agent), the rating pipeline, the sender."""
