"""--train_minutes: the fit's arithmetic, a run that ends and decays at its fitted step on a
clock that advances with the steps, a resume that keeps the fit, and the refusals."""

import json
import logging
import types

import pytest

from dcgan_dist import build, loop
from dcgan_dist.errors import UserError
from dcgan_dist.rundir import progress as progress_lib, timebudget
from dcgan_dist.training import state as state_lib
from helpers import checkpoint_step, latest_checkpoint, snapshot


def test_the_fit_waits_for_a_tenth_of_the_budget_then_fills_it_at_the_measured_rate(tmp_path):
    path = str(tmp_path / timebudget.FILE)
    budget = timebudget.TimeBudget(budget_secs=100.0, cap_steps=10_000, path=path)
    assert budget.fit(8, 2.0) is None    # the first execution (traced): the rate starts here
    assert budget.fit(50, 5.0) is None   # before a tenth of the budget
    # (400 - 8) steps in 8 s = 49 steps/s; 90 s left -> 4,410 more steps.
    assert budget.fit(400, 10.0) == 4_810
    assert json.loads((tmp_path / timebudget.FILE).read_text()) == {
        "train_minutes": 100 / 60, "total_steps": 4_810, "fitted_at_step": 400,
        "steps_per_sec": 49.0}


def test_the_fit_never_passes_the_cap_nor_goes_back_before_the_step(tmp_path):
    path = str(tmp_path / timebudget.FILE)
    fast = timebudget.TimeBudget(budget_secs=1_000.0, cap_steps=3_000, path=path)
    fast.fit(0, 0.0)
    assert fast.fit(1_000, 100.0) == 3_000
    late = timebudget.TimeBudget(budget_secs=10.0, cap_steps=3_000, path=path)
    late.fit(0, 0.0)  # a resumed run that is already over its minutes ends at once
    assert late.fit(20, 12.0) == 20


def test_the_refit_at_four_tenths_takes_the_rate_since_the_first_and_keeps_the_decay_ahead(
        tmp_path):
    path = str(tmp_path / timebudget.FILE)

    def fitted(decay_fraction):
        budget = timebudget.TimeBudget(100.0, 20_000, path, decay_fraction)
        budget.fit(0, 0.0)
        assert budget.fit(1_000, 10.0) == 10_000 and not budget.done  # 100 steps/s
        assert budget.fit(2_000, 30.0) is None  # before four tenths
        return budget

    budget = fitted(0.5)
    # Slower since the first fit: 2,400 steps in 30 s = 80 steps/s; 60 s left -> 4,800 more.
    assert budget.fit(3_400, 40.0) == 8_200 and budget.done
    assert json.loads((tmp_path / timebudget.FILE).read_text()) == {
        "train_minutes": 100 / 60, "total_steps": 8_200, "fitted_at_step": 1_000,
        "steps_per_sec": 100.0, "refitted_at_step": 3_400, "refit_steps_per_sec": 80.0}
    # Far slower: the new end would start the decay (half of it) before step 3,400: it starts
    # there instead.
    budget = fitted(0.5)
    assert budget.fit(3_400, 90.0) == 6_800
    # A first fit that came late (a long first execution): the refit waits until the rate
    # since it is measured over a twentieth of the budget, as the first fit's was.
    late = timebudget.TimeBudget(100.0, 20_000, path, 0.5)
    late.fit(0, 0.0)
    assert late.fit(1_000, 38.0) == 2_631  # 1,000 steps in 38 s, over the 62 s left
    assert late.fit(1_100, 41.0) is None and not late.done
    assert late.fit(1_200, 43.0) == 3_480 and late.done  # 200 steps in 5 s, over 57 s
    # A decay over the whole run has begun: no refit, the first fit stands.
    budget = fitted(1.0)
    assert budget.fit(3_400, 40.0) is None and budget.done
    assert json.loads((tmp_path / timebudget.FILE).read_text())["total_steps"] == 10_000


def test_resume_takes_the_first_starts_fit_and_refuses_a_damaged_file(tmp_path):
    workdir = str(tmp_path)
    total, budget = timebudget.resume(workdir, 2.0, 500)
    assert total == 500 and budget.budget_secs == 120.0 and budget.cap_steps == 500
    assert timebudget.resume(workdir, 0.0, 500) == (500, None)
    (tmp_path / timebudget.FILE).write_text('{"total_steps": 321}')
    assert timebudget.resume(workdir, 2.0, 500) == (321, None)
    assert timebudget.resume(workdir, 0.0, 500) == (500, None)  # the flag off: steps again
    (tmp_path / timebudget.FILE).write_text("{}")
    with pytest.raises(UserError, match=r"time_budget.json is damaged .*delete it and rerun"):
        timebudget.resume(workdir, 2.0, 500)


@pytest.fixture
def half_second_steps(monkeypatch):
    """The run's clock (rundir.progress's) reads 0.5 s per step trained: 2 steps/s exactly."""
    states = []

    def recording(*args, **kwargs):
        states.append(build_state(*args, **kwargs))
        return states[-1]

    build_state = state_lib.build_state
    monkeypatch.setattr(build.state_lib, "build_state", recording)
    clock = types.SimpleNamespace(monotonic=lambda: 0.5 * int(states[-1].step.numpy()))
    monkeypatch.setattr(progress_lib, "time", clock)
    return states


def test_a_run_ends_and_decays_at_the_step_its_minutes_fit_and_a_resume_keeps_it(
        make_config, half_second_steps, caplog):
    # 30 s at 2 steps/s: the fit comes at step 6 (3 s; measured from step 2, the first
    # execution) and sets 6 + 27 s * 2 = 60 steps, not the 200 of --train_steps.
    config = make_config(train_minutes=0.5, train_steps=200, steps_per_execution=2,
                         log_every_steps=2, ckpt_every_steps=50, g_lr=1e-3, d_lr=2e-3,
                         lr_decay_fraction=0.5)
    with caplog.at_level(logging.INFO):
        state = loop.train(config)
    assert "for as many steps as fit 0.5 minutes (at most 200)" in caplog.text
    assert "Time budget: 0.5 minutes fit 60 steps at 2.0 steps/s" in caplog.text
    workdir = config.rundir.workdir
    assert int(state.step.numpy()) == 60
    assert checkpoint_step(latest_checkpoint(workdir)) == 60
    assert json.loads(open(f"{workdir}/{timebudget.FILE}").read())["total_steps"] == 60
    # The last step's rates decayed to that total: 1 of the last 30 steps left.
    assert float(state.g_opt.learning_rate) == pytest.approx(1e-3 / 30)
    assert float(state.d_opt.learning_rate) == pytest.approx(2e-3 / 30)

    before = snapshot(workdir)  # the first start's fit stands, whatever the new cap
    state = loop.train(make_config(train_minutes=0.5, train_steps=400, steps_per_execution=2))
    assert int(state.step.numpy()) == 60
    assert snapshot(workdir) == before


def test_a_run_that_slows_down_is_refitted_before_its_decay_and_ends_there(
        make_config, half_second_steps, monkeypatch, caplog):
    # 0.5 s a step to step 10, then 1 s: the first fit (step 6, 3 s) sets 60 steps as above;
    # at four tenths (12 s) step 18 has taken 13 s: (18 - 6) / (13 - 3) = 1.2 steps/s over
    # 17 s left -> 18 + 20 = 38 steps, decayed over the last 19.
    def seconds(step):
        return 0.5 * min(step, 10) + 1.0 * max(0, step - 10)

    monkeypatch.setattr(progress_lib, "time", types.SimpleNamespace(
        monotonic=lambda: seconds(int(half_second_steps[-1].step.numpy()))))
    config = make_config(train_minutes=0.5, train_steps=200, steps_per_execution=2,
                         log_every_steps=2, ckpt_every_steps=50, g_lr=1e-3,
                         lr_decay_fraction=0.5)
    with caplog.at_level(logging.INFO):
        state = loop.train(config)
    assert "Time budget: 0.5 minutes fit 60 steps at 2.0 steps/s" in caplog.text
    assert "Time budget: 0.5 minutes refit 38 steps at 1.2 steps/s (measured over steps 6-18" \
        in caplog.text
    assert int(state.step.numpy()) == 38
    assert float(state.g_opt.learning_rate) == pytest.approx(1e-3 / 19)
    fit = json.loads(open(f"{config.rundir.workdir}/{timebudget.FILE}").read())
    assert (fit["total_steps"], fit["refitted_at_step"]) == (38, 18)


def test_a_multi_worker_run_refuses_the_flag_before_writing(make_config, monkeypatch):
    placement = types.SimpleNamespace(strategy=None, chief=True, multi_worker=True)
    monkeypatch.setattr(build.strategy_lib, "place", lambda runtime, strategy: placement)
    config = make_config(train_minutes=14.0)
    with pytest.raises(UserError, match=r"--train_minutes=14 fits a run to one machine's clock; "
                                        r"a multi-worker run sets --train_steps instead"):
        with build.build_run(config):
            pass
    assert snapshot(config.rundir.workdir) == {}
