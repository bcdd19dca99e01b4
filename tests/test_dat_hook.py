"""DATHook's schedule is a pure function of (iteration, seed), so every rank and a resumed run agree."""
import pytest

from mmdat.engine.hooks import DATHook


def test_nothing_before_begin_iter_and_a_linear_warmup_after():
    hook = DATHook(begin_iter=10, warmup_iters=4, stats_interval=5, vis_interval=0)
    assert not hook.plan(9, seed=1).active
    assert [hook.plan(i, seed=1).eps_scale for i in range(10, 15)] == [0.25, 0.5, 0.75, 1.0, 1.0]


def test_probability_draws_depend_only_on_iteration_and_seed():
    hook = DATHook(prob=0.5, stats_interval=5)
    first = [hook.plan(i, seed=7).active for i in range(400)]
    again = [DATHook(prob=0.5, stats_interval=5).plan(i, seed=7).active for i in range(400)]
    other_seed = [hook.plan(i, seed=8).active for i in range(400)]
    assert first == again
    assert first != other_seed
    assert 0.4 < sum(first) / len(first) < 0.6


def test_stats_and_visuals_follow_their_intervals():
    hook = DATHook(stats_interval=3, vis_interval=4, num_vis_samples=2)
    plans = [hook.plan(i, seed=0) for i in range(12)]
    assert [i for i, p in enumerate(plans) if p.collect_stats] == [2, 5, 8, 11]
    assert [i for i, p in enumerate(plans) if p.num_visuals] == [3, 7, 11]
    assert len({p.seed for p in plans}) == 12


@pytest.mark.parametrize('kwargs', [dict(begin_iter=-1), dict(prob=1.5), dict(warmup_iters=-2),
                                    dict(stats_interval=0), dict(vis_interval=-1)])
def test_bad_arguments_show_the_value(kwargs):
    with pytest.raises(ValueError, match=str(list(kwargs.values())[0])):
        DATHook(**kwargs)
