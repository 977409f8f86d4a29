"""The development stack: embedded servers, the demo and its generator, the benchmarks, the pass-through
worker.  Never imported by the runtime (worker, configuration, API); the CLI imports it inside ``rater demo``
and ``rater bench`` only."""
