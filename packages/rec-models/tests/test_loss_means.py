

def test_loss_mean_weights_batches_by_rows() -> None:
    import torch

    from rec_models.model import BaseModel

    model = BaseModel.__new__(BaseModel)
    torch.nn.Module.__init__(model)
    model.metrics = torch.nn.ModuleDict()
    model._loss_means = torch.nn.ModuleDict()
    model._track_loss({"bce": torch.tensor(1.0)}, 300)
    model._track_loss({"bce": torch.tensor(4.0)}, 100)
    assert model.compute_metric()["bce"] == 1.75  # (300 * 1 + 100 * 4) / 400
