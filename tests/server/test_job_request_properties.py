"""Property tests of the job-creation rules: a request is accepted exactly when OpenAI's limits allow it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runner.server.errors import ApiError
from runner.server.job_request import parse_job_request

BASE = {"model": "local/tiny", "training_file": "file-" + "a" * 22}


def _accepted(body: dict[str, Any]) -> ApiError | None:
    try:
        parse_job_request({**BASE, **body})
    except ApiError as e:
        return e
    return None


@given(
    st.dictionaries(
        st.text(min_size=0, max_size=70),
        st.one_of(st.text(max_size=520), st.integers(), st.none()),
        max_size=18,
    )
)
def test_metadata_limits(metadata: dict[str, Any]) -> None:
    ok = (
        len(metadata) <= 16
        and all(len(k) <= 64 for k in metadata)
        and all(isinstance(v, str) and len(v) <= 512 for v in metadata.values())
    )
    error = _accepted({"metadata": metadata})
    assert (error is None) == ok
    if error is not None:
        assert (error.status, error.param) == (400, "metadata")


@given(st.one_of(st.text(max_size=70), st.integers(), st.none()))
def test_suffix_limits(suffix: Any) -> None:
    ok = suffix is None or (isinstance(suffix, str) and 1 <= len(suffix) <= 64)
    error = _accepted({"suffix": suffix})
    assert (error is None) == ok


@given(
    st.sampled_from(["batch_size", "n_epochs", "learning_rate_multiplier", "beta"]),
    st.one_of(
        st.just("auto"), st.integers(-5, 300), st.floats(-1, 300, allow_nan=False), st.booleans(), st.text(max_size=3)
    ),
)
def test_dpo_hyperparameter_ranges(name: str, value: Any) -> None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    ok = (
        value == "auto"
        or {
            "batch_size": is_int and 1 <= value <= 256,
            "n_epochs": is_int and 1 <= value <= 50,
            "learning_rate_multiplier": is_num and value > 0,
            "beta": is_num and 0 < value <= 2,
        }[name]
    )
    method = {"type": "dpo", "dpo": {"hyperparameters": {name: value}}}
    error = _accepted({"method": method})
    assert (error is None) == ok
    if error is not None:
        assert error.param == f"method.dpo.hyperparameters.{name}"
