"""wt_mean spike detection and counting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cre_core.train.stability import spike_steps, spike_summary


def steps(run, values):
    return pd.DataFrame({"run": run, "step": np.arange(len(values)), "wt_mean": values})


def test_spikes_are_excursions_beyond_the_threshold():
    frame = pd.concat([
        steps("bn", [1.0, 1.3, 1.4, 1.0, 0.6, 1.0, 1.02]),   # two excursions, three spike steps
        steps("anchored", [1.0] * 7),
    ])
    found = spike_steps(frame, threshold=0.1)
    assert list(found["step"]) == [1, 2, 4]
    assert list(found["spike"]) == [1, 1, 2]
    assert found["deviation"].tolist() == pytest.approx([0.3, 0.4, 0.4])
    summary = spike_summary(frame, threshold=0.1).set_index("run")
    assert summary.loc["bn", "spikes"] == 2 and summary.loc["bn", "spike_steps"] == 3
    assert summary.loc["bn", "first_spike_step"] == 1
    assert summary.loc["bn", "max_deviation"] == pytest.approx(0.4)
    assert summary.loc["bn", "final_wt_mean"] == pytest.approx(1.02)
    assert summary.loc["anchored", "spikes"] == 0 and summary.loc["anchored", "spike_fraction"] == 0


def test_threshold_is_strict_and_nan_steps_are_ignored():
    frame = steps("r", [1.25, np.nan, 0.75, 1.5])       # exact binary fractions: no rounding
    assert list(spike_steps(frame, 0.25)["step"]) == [3]
    assert spike_summary(frame, 0.25).loc[0, "steps"] == 3
    # consecutive logged rows form one excursion: a step without wt_mean does not split it
    assert spike_summary(frame, 0.0).loc[0, "spikes"] == 1


def test_unsorted_input_and_negative_threshold():
    frame = steps("r", [1.0, 1.5, 1.0]).iloc[::-1]
    assert list(spike_steps(frame, 0.2)["step"]) == [1]
    with pytest.raises(ValueError):
        spike_steps(frame, -1)
