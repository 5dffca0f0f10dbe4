"""The masked loss: unknown cells contribute exactly zero loss and zero gradient."""

from __future__ import annotations

import math

import pytest
import torch

from core.training.loss import multitask_loss, partial_weight, positive_weights, rejection_rates


def bce(logit: float, y: int) -> float:
    p = 1 / (1 + math.exp(-logit))
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_masked_loss_is_mean_over_images_of_sum_over_known_cells() -> None:
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.5, 0.1, -0.7]])
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    known = torch.tensor([[True, False, True], [True, True, False]])
    expected = (bce(0.3, 1) + bce(2.0, 1) + bce(1.5, 0) + bce(0.1, 1)) / 2
    assert multitask_loss(logits, targets, known).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("kind", ["masked", "partial", "known-mean"])
def test_unknown_cells_get_exactly_zero_gradient_even_with_nan_logits(kind: str) -> None:
    logits = torch.tensor([[0.5, float("nan")], [-0.3, float("inf")]], requires_grad=True)
    targets = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    known = torch.tensor([[True, False], [True, False]])
    loss = multitask_loss(logits, targets, known, kind)
    loss.backward()  # type: ignore[no-untyped-call]
    assert torch.isfinite(loss)
    assert logits.grad is not None
    assert logits.grad[0, 1].item() == 0.0 and logits.grad[1, 1].item() == 0.0
    assert logits.grad[0, 0].item() != 0.0


def test_changing_an_unknown_target_or_logit_changes_nothing() -> None:
    torch.manual_seed(0)
    logits = torch.randn(8, 4)
    targets = torch.randint(0, 2, (8, 4)).float()
    known = torch.rand(8, 4) > 0.5
    base = multitask_loss(logits, targets, known)
    other_logits = torch.where(known, logits, torch.randn(8, 4) * 10)
    other_targets = torch.where(known, targets, 1 - targets)
    assert multitask_loss(other_logits, other_targets, known).item() == pytest.approx(base.item())


def test_assume_negative_baseline_differs_by_treating_unknown_as_absent() -> None:
    logits = torch.tensor([[2.0, 2.0]])
    targets = torch.tensor([[1.0, 1.0]])
    known = torch.tensor([[True, False]])
    assert multitask_loss(logits, targets, known, "assume-negative").item() == pytest.approx(
        bce(2.0, 1) + bce(2.0, 0), rel=1e-6
    )


def test_partial_bce_weights_sparsely_labelled_images_up() -> None:
    assert partial_weight(torch.tensor(1.0)).item() == pytest.approx(1.0)
    assert partial_weight(torch.tensor(0.1)).item() == pytest.approx(5.005, rel=1e-3)
    logits = torch.zeros(1, 10)
    targets = torch.ones(1, 10)
    one_known = torch.zeros(1, 10, dtype=torch.bool)
    one_known[0, 0] = True
    masked = multitask_loss(logits, targets, one_known, "masked").item()
    partial = multitask_loss(logits, targets, one_known, "partial").item()
    assert partial == pytest.approx(masked * 5.005, rel=1e-3)


def test_positive_weights_are_clipped_ratios_of_known_cells() -> None:
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    known = torch.tensor([[True, True], [True, True], [True, False], [False, True]])
    weights = positive_weights(targets, known)
    assert weights.tolist() == pytest.approx([2.0, 2.0])
    many_neg = positive_weights(
        torch.zeros(50, 1).index_fill_(0, torch.tensor([0]), 1.0),
        torch.ones(50, 1, dtype=torch.bool),
    )
    assert many_neg.item() == 10.0


def test_known_mean_divides_by_the_known_cells_of_the_batch() -> None:
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.5, 0.1, -0.7]])
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    known = torch.tensor([[True, False, True], [True, True, False]])
    total = bce(0.3, 1) + bce(2.0, 1) + bce(1.5, 0) + bce(0.1, 1)
    got = multitask_loss(logits, targets, known, "known-mean").item()
    assert got == pytest.approx(total * 3 / 4, rel=1e-6)  # 4 known cells, 3 tasks
    full = torch.ones_like(known)
    assert multitask_loss(logits, targets, full, "known-mean").item() == pytest.approx(
        multitask_loss(logits, targets, full).item(), rel=1e-6
    ), "a fully known batch weighs as the masked loss does"


def test_large_loss_leaves_out_the_unknown_cells_most_likely_present() -> None:
    # task 0: four unknown cells; with a rejection rate of 0.5 the two largest logits
    # (the largest losses as "absent") are left out, the others count as absent
    logits = torch.tensor([[3.0], [-2.0], [1.0], [-1.0], [0.5]])
    targets = torch.tensor([[0.0], [0.0], [0.0], [0.0], [1.0]])
    known = torch.tensor([[False], [False], [False], [False], [True]])
    got = multitask_loss(logits, targets, known, "large-loss", reject=torch.tensor([0.5]))
    expected = (bce(-2.0, 0) + bce(-1.0, 0) + bce(0.5, 1)) / 5
    assert got.item() == pytest.approx(expected, rel=1e-6)
    none = multitask_loss(logits, targets, known, "large-loss", reject=torch.tensor([0.0]))
    assert none.item() == pytest.approx(
        multitask_loss(logits, targets, known, "assume-negative").item()
    )


def test_rejection_rates_follow_the_known_prevalence_over_two_epochs() -> None:
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    known = torch.tensor([[True, True], [True, True], [True, False], [True, True]])
    assert rejection_rates(targets, known, 1).tolist() == [0.0, 0.0]
    assert rejection_rates(targets, known, 2).tolist() == pytest.approx([0.25, 0.0])
    assert rejection_rates(targets, known, 5).tolist() == pytest.approx([0.5, 0.0])
