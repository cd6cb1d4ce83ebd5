"""The weight average (--ema-decay): each step moves it 1 - decay of the way to the weights."""

import torch

from charmony.pipeline.training.averaging import WeightAverage


def test_each_update_moves_the_average_towards_the_weights_and_applied_swaps_them_back():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    average = WeightAverage(model, 0.75)
    for value in (4.0, 8.0):
        with torch.no_grad():
            model.weight.fill_(value)
        average.update()
    expected = 0.75 * (0.75 * 0.0 + 0.25 * 4.0) + 0.25 * 8.0  # 2.75
    assert torch.allclose(average.state_dict()["weight"], torch.full((1, 2), expected))
    with average.applied():
        assert torch.allclose(model.weight, torch.full((1, 2), expected))
    assert torch.equal(model.weight, torch.full((1, 2), 8.0)), "the trained weights are back after the block"
    again = WeightAverage(model, 0.75, saved=average.state_dict())
    assert torch.equal(again.state_dict()["weight"], average.state_dict()["weight"]), "a saved average is taken up"
