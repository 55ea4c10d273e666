"""Executors: where a run's jobs go. The runner (core.runner) plans, keys, records and scores; an executor
only runs each model's chunks somewhere and hands back `(job, Outcome)` events.

    local           this process, one model at a time on the engine's device (core.executors.local)
    ray             Ray actors, one per GPU (or CPU slot), over one node or a cluster (core.executors.ray_executor)
"""
