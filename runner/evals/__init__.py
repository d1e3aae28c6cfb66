"""Eval suites: cases and assertions that score a model through a target's chat API.

`suite` loads and checks evals/<suite>.yaml (cases rendered like training data, with file:line errors), `assertions`
checks one answer, `scoring` turns sample outcomes into a suite's result, `gate` decides a promotion, `compare` builds
the table a plan and `ftrun eval` show, `standing` reads where each experiment's evals stand in state (for `status`
and `show`), `runner` sends the requests concurrently. Only `runner` does I/O.
"""
