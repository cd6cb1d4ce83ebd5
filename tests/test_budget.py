from charmony.pipeline.training.budget import TimeBudget
from charmony.pipeline.training.schedule import FLOOR, Schedule


def test_the_schedule_is_fitted_to_the_steps_the_time_allows():
    budget = TimeBudget(started=0.0, first_step=0, deadline=100.0)
    schedule = Schedule.initial(10, 5000)
    assert budget.fitted(schedule, 40, 5000, now=4.0) is schedule, "not before 5% of the time"
    fitted = budget.fitted(schedule, 50, 5000, now=5.0)  # 10 steps a second: 950 more in the 95 s left
    assert fitted.legs[-1].end == 50 + int(10 * 95 * 0.97)
    assert fitted.factor(50) == schedule.factor(50), "the rate goes on from where it stands"
    assert fitted.factor(fitted.legs[-1].end) == FLOOR
    assert budget.fitted(fitted, 60, 5000, now=6.0) is fitted, "next at 20% of the time"
    slower = budget.fitted(fitted, 100, 5000, now=20.0)  # 5 steps a second
    assert slower.legs[-1].end == 100 + int(5 * 80 * 0.97)


def test_a_budget_longer_than_the_steps_keeps_the_schedule():
    budget = TimeBudget(started=0.0, first_step=0, deadline=1000.0)
    schedule = Schedule.initial(10, 200)
    assert budget.fitted(schedule, 100, 200, now=60.0) is schedule


def test_training_for_minutes_ends_its_schedule_with_the_time(tmp_path):
    import json

    from charmony.pipeline.data.prepare import prepare
    from charmony.pipeline.run.config import PrepareConfig, TrainConfig
    from charmony.pipeline.run.folder import Run
    from charmony.pipeline.training.checkpoint import Checkpoint
    from charmony.pipeline.training.train import train

    run = Run(tmp_path / "runs" / "load")
    prepare(run, PrepareConfig("series", options={"days": "30", "bins": "32"}))
    config = TrainConfig().with_settings(layers=1, hidden=16, embedding=8, seq_len=16, batch_size=4, max_steps=1_000_000,
                                         max_minutes=0.08, warmup_steps=5, eval_every=10_000, log_every=5, device="cpu")
    result = train(run, config)
    schedule = Checkpoint.load(run.checkpoint_path).schedule
    assert 20 < schedule.legs[-1].end < 1_000_000, "fitted to the steps the minutes allow"
    assert abs(schedule.legs[-1].end - result.step) < 0.5 * result.step
    last = [json.loads(line) for line in run.metrics_path.read_text().splitlines()][-1]
    assert last["lr"] < 0.5 * config.lr, "the rate has decayed most of the way by the end"
