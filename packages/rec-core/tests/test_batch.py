"""The Batch contract: device moves keep every part; to_dict is the exported signature."""

import pyarrow as pa
import torch
from torchrec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor

from rec_core.batch import BASE_DATA_GROUP, Batch


def _batch() -> Batch:
    kjt = KeyedJaggedTensor.from_lengths_sync(
        keys=["a", "b"], values=torch.tensor([1, 2, 3, 4]), lengths=torch.tensor([2, 0, 1, 1])
    )
    kt = KeyedTensor(keys=["x", "y"], length_per_key=[1, 2], values=torch.arange(6, dtype=torch.float32).view(2, 3))
    return Batch(
        dense_features={BASE_DATA_GROUP: kt},
        sparse_features={BASE_DATA_GROUP: kjt},
        labels={"clk": torch.tensor([1.0, 0.0])},
        reserves=pa.record_batch({"id": [7, 8]}),
        batch_size=2,
    )


def test_to_dict_flattens_features_and_labels() -> None:
    d = _batch().to_dict()
    assert sorted(d) == ["a.lengths", "a.values", "b.lengths", "b.values", "clk", "x", "y"]
    assert d["a.values"].tolist() == [1, 2] and d["a.lengths"].tolist() == [2, 0]
    assert d["b.values"].tolist() == [3, 4] and d["b.lengths"].tolist() == [1, 1]
    assert d["y"].tolist() == [[1.0, 2.0], [4.0, 5.0]]


def test_to_keeps_every_part() -> None:
    moved = _batch().to(torch.device("cpu"))
    assert moved.batch_size == 2 and moved.reserves.num_rows == 2
    assert moved.to_dict().keys() == _batch().to_dict().keys()


def _sequence_batch() -> Batch:
    seq = JaggedTensor(values=torch.arange(6, dtype=torch.float32).view(3, 2), lengths=torch.tensor([2, 1]))
    # row 0: elements of 1 and 2 ids, row 1: one element of 1 id
    ids = KeyedJaggedTensor.from_lengths_sync(keys=["hist"], values=torch.tensor([7, 8, 9, 5]), lengths=torch.tensor([3, 1]))
    mulval = KeyedJaggedTensor.from_lengths_sync(keys=["hist"], values=torch.tensor([1, 2, 1]), lengths=torch.tensor([2, 1]))
    return Batch(
        sparse_features={BASE_DATA_GROUP: ids},
        sequence_dense_features={"prices": seq},
        sequence_mulval_lengths={BASE_DATA_GROUP: mulval},
        additional_infos={"hard_neg_indices": torch.tensor([[0, 1]], dtype=torch.int32)},
        batch_size=2,
    )


def test_sequence_parts_flatten_and_move() -> None:
    d = _sequence_batch().to_dict()
    assert d["prices.values"].shape == (3, 2) and d["prices.lengths"].tolist() == [2, 1]
    assert d["hist.values"].tolist() == [7, 8, 9, 5]
    # elements per row, not ids per row: the ids per row are the segment sums of key_lengths
    assert d["hist.lengths"].tolist() == [2, 1] and d["hist.key_lengths"].tolist() == [1, 2, 1]
    moved = _sequence_batch().to(torch.device("cpu"))
    assert moved.additional_infos["hard_neg_indices"].tolist() == [[0, 1]]
    assert moved.sequence_dense_features["prices"].lengths().tolist() == [2, 1]
