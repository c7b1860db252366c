"""Helpers shared by the test suites, one module per concern; fixtures stay in the conftest.py files.

- `engine`: configs on disk, real engines, waiting for run states
- `processes`: what is left running (by session, by command line or environment), clean-up
- `cli`: the real `coopy` command
- `tmux`: the real apps in tmux
- `waiting`: blocking waits (`poll`, `wait_for`); the async ones are in `engine`
- `slurm`: squeue / scancel and wrappers for the Slurm tests
- `tui`: the scripted engine and Pilot waits of the TUI tests
- `bad_config_cases`: the bad-config table (core and reliability suites)
- `machine`: the machine running short for real (a small filled disk, descriptors used up)
- `marks`, `marker_step.py`: a command that counts its executions and sees two copies of a run alive at once
"""
