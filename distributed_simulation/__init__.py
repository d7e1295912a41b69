"""Example: a distributed simulation of the default scenario (top-level config.yaml).

python -m distributed_simulation.main            # manager and workers in one terminal
python -m distributed_simulation.world_manager   # the manager (one terminal) ...
python -m distributed_simulation.world_agent 0 2 # ... and each worker (other terminals)
"""
